"""The one contact policy: consent, caps, priority, offer spacing, capacity, holdout, global
control and quiet hours, each decided with its reason."""

from datetime import date, datetime, timedelta

import pytest

from orchestration.actions.contact_policy import (
    Candidate, CampaignRules, ContactHistory, ContactPolicySettings, assign_arm, decide,
    in_global_control, reachable_channel,
)

DAY = date(2026, 12, 1)
REACHABLE = {"email_opt_in": True, "email": "a@example.jp", "line_opt_in": True, "line_user_id": "U" + "0" * 32}


def cand(campaign, key, score=0.0, **row):
    return Candidate(campaign, "main", key, {**REACHABLE, **row}, score)


def rules(name, priority=50, holdout=0.0, **kw):
    return CampaignRules(name=name, channels=kw.pop("channels", ("line", "mail")), priority=priority,
                         holdout_share=holdout, **kw)


def by_key(decisions):
    return {(d.candidate.campaign, d.candidate.customer_key): d for d in decisions}


def test_missing_or_unknown_consent_is_no_and_the_next_channel_is_tried():
    assert reachable_channel({"line_opt_in": None, "line_user_id": "U1", "email_opt_in": True,
                              "email": "a@x.jp"}, ("line", "mail")) == "mail"
    assert reachable_channel({"line_opt_in": True, "line_user_id": None, "email_opt_in": False,
                              "email": "a@x.jp"}, ("line", "mail")) is None
    out = decide([rules("c")], {"c": [cand("c", "k1", email_opt_in=None, line_opt_in=False)]},
                 ContactHistory(), DAY, ContactPolicySettings())
    assert [(d.decision, d.channel) for d in out] == [("no_consent", None)]
    assert "line / mail" in out[0].reason and "unknown" not in out[0].reason


def test_consent_unknown_on_every_channel_is_recorded_as_unknown_not_refused():
    """An export without consent columns: the ledger says so, so nobody reads it as opt-outs."""
    out = decide([rules("c")], {"c": [cand("c", "k1", email_opt_in=None, line_opt_in=None)]},
                 ContactHistory(), DAY, ContactPolicySettings())
    assert [(d.decision, d.channel) for d in out] == [("no_consent", None)]
    assert out[0].reason.startswith("consent unknown") and "line / mail" in out[0].reason


def test_higher_priority_campaign_wins_the_customer_for_the_day():
    out = by_key(decide([rules("low", 10), rules("high", 90)],
                        {"low": [cand("low", "k")], "high": [cand("high", "k")]},
                        ContactHistory(), DAY, ContactPolicySettings(max_contacts=5)))
    assert out[("high", "k")].decision == "send"
    assert out[("low", "k")].decision == "excluded_by_priority"
    assert "high" in out[("low", "k")].reason


def test_global_cap_counts_earlier_contacts_in_the_window_and_today():
    history = ContactHistory.from_rows([("k", "x", DAY - timedelta(days=6), False, "mail"),
                                        ("k", "y", DAY - timedelta(days=7), False, "mail")], DAY)
    policy = ContactPolicySettings(max_contacts=2, cap_window_days=7)
    out = by_key(decide([rules("a", 90), rules("b", 80)], {"a": [cand("a", "k")], "b": [cand("b", "k2")]},
                        history, DAY, policy))
    # one contact inside the 7-day window (day-6); day-7 is outside: a second one is allowed
    assert out[("a", "k")].decision == "send"
    history2 = ContactHistory.from_rows([("k", "x", DAY - timedelta(days=1), False, "mail"),
                                         ("k", "y", DAY - timedelta(days=2), False, "mail")], DAY)
    out2 = decide([rules("a")], {"a": [cand("a", "k")]}, history2, DAY, policy)
    assert out2[0].decision == "capped" and "cap 2" in out2[0].reason


def test_one_monetary_offer_per_spacing_days():
    history = ContactHistory.from_rows([("k", "old", DAY - timedelta(days=10), True, "mail")], DAY)
    policy = ContactPolicySettings(max_contacts=9, offer_spacing_days=30)
    out = by_key(decide([rules("coupon", monetary_offer=True), rules("info", 10)],
                        {"coupon": [cand("coupon", "k")], "info": [cand("info", "k")]},
                        history, DAY, policy))
    assert out[("coupon", "k")].decision == "offer_spacing"
    assert out[("info", "k")].decision == "send"          # no offer: spacing does not apply
    far = ContactHistory.from_rows([("k", "old", DAY - timedelta(days=30), True, "mail")], DAY)
    assert decide([rules("coupon", monetary_offer=True)], {"coupon": [cand("coupon", "k")]}, far, DAY,
                  policy)[0].decision == "send"


def test_on_site_offers_count_for_offer_spacing_but_not_for_the_cap():
    # The customer opened the page: an offer shown there is no outbound contact, but it is an offer.
    rows = [("k", "onsite_pinpoint_offer", DAY - timedelta(days=d), True, "onsite") for d in (1, 2, 3)]
    policy = ContactPolicySettings(max_contacts=2, cap_window_days=7, offer_spacing_days=30)
    out = by_key(decide([rules("coupon", 90, monetary_offer=True), rules("info", 10)],
                        {"coupon": [cand("coupon", "k")], "info": [cand("info", "k")]},
                        ContactHistory.from_rows(rows, DAY), DAY, policy))
    assert out[("coupon", "k")].decision == "offer_spacing"
    assert out[("info", "k")].decision == "send"          # three on-site offers, yet not capped


def test_capacity_takes_the_highest_priority_scores_first():
    cands = [cand("c", f"k{i}", score=float(i)) for i in range(5)]
    out = decide([rules("c", daily_capacity=2)], {"c": cands}, ContactHistory(), DAY, ContactPolicySettings())
    assert [(d.candidate.customer_key, d.decision) for d in out] == [
        ("k4", "send"), ("k3", "send"), ("k2", "over_capacity"), ("k1", "over_capacity"), ("k0", "over_capacity")]


def test_holdout_is_stable_and_near_its_share_and_counts_towards_caps():
    keys = [f"cust-{i}" for i in range(4000)]
    out = decide([rules("c", holdout=0.2)], {"c": [cand("c", k) for k in keys]}, ContactHistory(), DAY,
                 ContactPolicySettings())
    held = [d for d in out if d.decision == "holdout"]
    assert 0.18 < len(held) / len(keys) < 0.22
    assert all(assign_arm("c", d.candidate.customer_key, 0.2) == "holdout" for d in held)
    assert all(d.arm == "holdout" for d in held)
    # a held-out customer is "chosen" for the day: a lower campaign cannot take them
    k = held[0].candidate.customer_key
    history = ContactHistory.from_rows([(k, "c", DAY, False, "mail")], DAY)
    again = decide([rules("other", 1)], {"other": [cand("other", k)]}, history, DAY, ContactPolicySettings())
    assert again[0].decision == "excluded_by_priority"


def test_global_control_is_never_contacted_by_any_campaign_but_team_notices_go_out():
    policy = ContactPolicySettings(global_control_share=0.1)
    keys = [f"cust-{i}" for i in range(2000)]
    control = {k for k in keys if in_global_control(k, 0.1)}
    assert 0.08 < len(control) / len(keys) < 0.12
    out = decide([rules("a"), rules("b", 10), rules("team", 99, channels=("webhook",), consent_free=True)],
                 {n: [cand(n, k) for k in keys] for n in ("a", "b", "team")}, ContactHistory(), DAY, policy)
    for d in out:
        if d.candidate.campaign in ("a", "b") and d.candidate.customer_key in control:
            assert d.decision == "global_control"
    assert all(d.decision == "send" for d in out if d.candidate.campaign == "team")
    # the control group does not depend on a campaign: the same customers for both
    assert {d.candidate.customer_key for d in out if d.decision == "global_control"} == control


@pytest.mark.parametrize("clock,quiet", [("20:59", False), ("21:00", True), ("23:30", True),
                                         ("00:00", True), ("07:59", True), ("08:00", False), ("12:00", False)])
def test_quiet_hours_cross_midnight(clock, quiet):
    h, m = map(int, clock.split(":"))
    assert ContactPolicySettings().in_quiet_hours(datetime(2026, 12, 1, h, m)) is quiet


def test_policy_settings_reject_bad_values():
    with pytest.raises(ValueError):
        ContactPolicySettings(quiet_hours_start="25:00")
    with pytest.raises(ValueError):
        ContactPolicySettings(global_control_share=0.9)
