"""Every action's contact policy, in one place: who may be contacted, how often, and who is held out.

Every campaign's candidates of the day pass through :func:`decide` before anything is sent, and
every decision is recorded in the action ledger with its reason, so "why did (or didn't) this
customer get it" is one query on ``actions.action_ledger``. The rules, in the order they apply:

1. **global control**: a stable share of all customers (``global_control_share``) is never
   contacted by any campaign: the baseline every campaign's long-run effect is measured against;
2. **consent and reachability**: the first of the campaign's channels the customer consented to
   and has an address for; missing consent is "no" (an export without the column is not consent);
3. **priority**: a customer one campaign already chose today (either arm) is not chosen by a
   campaign of lower priority (mutual exclusion; campaigns are decided in priority order);
4. **global cap**: at most ``max_contacts`` decisions per customer in ``cap_window_days`` across
   all campaigns (held-out decisions count too: the holdout must stay comparable to the treated);
5. **offer spacing**: one monetary offer per customer per ``offer_spacing_days``
   (オファーの乱発は厳禁: a discount every week teaches customers to wait for one);
6. **daily capacity** of the campaign, if it has one (a call center's hours);
7. **holdout**: a stable share per campaign (:func:`assign_arm`) is held out, drawn from the
   customers who passed every rule above, so treatment and holdout are comparable.

Quiet hours (no mail or LINE 21:00-08:00 in the business time zone unless the campaign allows
it) do not change a decision: a message decided in quiet hours stays ``planned`` and is sent by
the first run after they end (orchestration/actions/runner.py).

On-site offers (the decision service, connectors/onsite_offers) are decided by their own
eligibility mart and recorded in the same ledger (orchestration/actions/onsite_ledger.py). They
are pulled, not pushed: the customer came to the page, so they do not count towards the cap, but a
monetary one counts for offer spacing like any other (:data:`PULL_CHANNELS`).

A customer a campaign step already chose (either arm) is not a candidate again for that step
until the campaign's ``repeat_after_days`` have passed (never, by default): that is the
campaign's rule, applied where the candidates are read (orchestration/actions/runner.py).

The defaults live here, in :class:`ContactPolicySettings`; a merchant changes them in the
``contact_policy`` section of the settings file (orchestration/merchant_settings.py).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Decisions, as recorded in the ledger's `decision` column.
SEND = "send"
HOLDOUT = "holdout"
GLOBAL_CONTROL = "global_control"
NO_CONSENT = "no_consent"
EXCLUDED_BY_PRIORITY = "excluded_by_priority"
CAPPED = "capped"
OFFER_SPACING = "offer_spacing"
OVER_CAPACITY = "over_capacity"
DECISIONS = (SEND, HOLDOUT, GLOBAL_CONTROL, NO_CONSENT, EXCLUDED_BY_PRIORITY, CAPPED,
             OFFER_SPACING, OVER_CAPACITY)
# Decisions that choose the customer (the treatment or its holdout): they count towards caps,
# offer spacing and priority.
CHOSEN = (SEND, HOLDOUT)
_ARMS = {SEND: "treatment", HOLDOUT: "holdout"}
# Channels whose contacts the customer started (an offer shown on the page they opened): not
# counted towards the global cap; their monetary offers still count for offer spacing.
PULL_CHANNELS = frozenset({"onsite"})

# channel -> (consent column, address column) of an audience row
CONSENT_COLUMNS = {
    "mail": ("email_opt_in", "email"),
    "line": ("line_opt_in", "line_user_id"),
    "postal_dm": ("dm_opt_in", "postal_code"),
    "call_center": ("phone_opt_in", "phone"),
}
# Channels that reach the customer in person at any hour: quiet hours apply to them.
QUIET_HOUR_CHANNELS = ("mail", "line")


class ContactPolicySettings(BaseModel):
    """The ``contact_policy`` section of the settings file (every campaign, every channel)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # At most this many contacts per customer in `cap_window_days`, across all campaigns.
    max_contacts: int = Field(default=2, ge=1)
    cap_window_days: int = Field(default=7, ge=1)
    # One monetary offer (coupon, discount, gift) per customer per this many days.
    offer_spacing_days: int = Field(default=30, ge=0)
    # Share of all customers no campaign ever contacts (0 = no global control group).
    global_control_share: float = Field(default=0.0, ge=0.0, lt=0.5)
    # No mail or LINE between these times (business time zone) unless a campaign allows it.
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"

    @field_validator("quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a time of day HH:MM: {value!r}") from None
        return value

    def in_quiet_hours(self, now: datetime) -> bool:
        """Is `now` (local business time) inside the quiet hours? The window may cross midnight."""
        start, end, t = time.fromisoformat(self.quiet_hours_start), time.fromisoformat(self.quiet_hours_end), now.time()
        return (start <= t or t < end) if start > end else (start <= t < end)


def assign_arm(campaign: str, customer_key: str, holdout_share: float) -> str:
    """Stable random assignment: the same customer stays in the same arm of a campaign every day.

    A hash rather than a random draw, so a re-run, a backfill or another machine agree, and a
    customer who qualifies again later is not re-randomised into treatment.
    """
    if not 0.0 <= holdout_share < 1.0:
        raise ValueError(f"holdout_share must be in [0, 1), got {holdout_share}")
    return "holdout" if _unit_hash(campaign, customer_key) < holdout_share else "treatment"


def in_global_control(customer_key: str, share: float) -> bool:
    """The global control group: stable per customer, independent of every campaign's holdout."""
    return share > 0 and _unit_hash("\x00global-control", customer_key) < share


def _unit_hash(salt: str, customer_key: str) -> float:
    digest = hashlib.sha256(f"{salt}\x1f{customer_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class CampaignRules:
    """What the policy needs to know of a campaign (orchestration/actions/campaigns.py builds it)."""

    name: str
    channels: tuple[str, ...]           # in preference order
    priority: int                       # higher is decided first
    holdout_share: float
    monetary_offer: bool = False
    daily_capacity: int | None = None
    consent_free: bool = False          # internal channels (webhook to the team): no consent needed


class Candidate(NamedTuple):  # a tuple, not a dataclass: a day makes hundreds of thousands
    campaign: str
    step: str
    customer_key: str
    row: Mapping[str, object]           # the audience row (consent and address columns)
    priority_score: float = 0.0


class Decision(NamedTuple):
    candidate: Candidate
    decision: str                       # one of DECISIONS
    channel: str | None                 # the channel chosen (None when no channel is allowed)
    reason: str

    @property
    def arm(self) -> str | None:
        return _ARMS.get(self.decision)


@dataclass
class ContactHistory:
    """Earlier chosen decisions (either arm), per customer: from the ledger, plus today's."""

    contacts: dict[str, list[date]] = field(default_factory=lambda: defaultdict(list))
    offers: dict[str, list[date]] = field(default_factory=lambda: defaultdict(list))
    chosen_today: dict[str, str] = field(default_factory=dict)   # customer -> campaign

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, date, bool, str | None]], day: date) -> "ContactHistory":
        """rows: (customer_key, campaign, action_date, monetary_offer, channel) of chosen decisions."""
        history = cls()
        for customer_key, campaign, action_date, monetary, channel in rows:
            if channel in PULL_CHANNELS:
                if monetary:
                    history.offers[customer_key].append(action_date)
                continue
            history.contacts[customer_key].append(action_date)
            if monetary:
                history.offers[customer_key].append(action_date)
            if action_date == day:
                history.chosen_today.setdefault(customer_key, campaign)
        return history


def decide(
    campaigns: Sequence[CampaignRules],
    candidates: Mapping[str, Sequence[Candidate]],
    history: ContactHistory,
    day: date,
    policy: ContactPolicySettings,
) -> list[Decision]:
    """Every candidate's decision for `day`, campaigns in priority order (ties by name),
    candidates of a campaign by priority_score (highest first). `history` is updated in place
    with today's chosen customers, so the same history can be extended by a later call."""
    decisions: list[Decision] = []
    cap_since = day - timedelta(days=policy.cap_window_days - 1)
    offer_since = day - timedelta(days=policy.offer_spacing_days - 1) if policy.offer_spacing_days else None
    for rules in sorted(campaigns, key=lambda c: (-c.priority, c.name)):
        chosen = 0
        ranked = sorted(candidates.get(rules.name, ()), key=lambda c: (-c.priority_score, c.customer_key))
        for cand in ranked:
            key = cand.customer_key
            channel = rules.channels[0] if rules.consent_free else reachable_channel(cand.row, rules.channels)
            decision, reason = _decide_one(rules, cand, channel, history, day, policy, chosen, cap_since, offer_since)
            if decision is None:  # chosen: draw the arm, count the contact
                arm = assign_arm(rules.name, key, rules.holdout_share)
                chosen += arm == "treatment"
                history.contacts[key].append(day)
                if rules.monetary_offer:
                    history.offers[key].append(day)
                history.chosen_today.setdefault(key, rules.name)
                decision, reason = ((HOLDOUT, f"held out at random ({rules.holdout_share:.0%}) to measure the effect")
                                    if arm == "holdout" else (SEND, "chosen"))
            decisions.append(Decision(cand, decision, channel, reason))
    return decisions


def _decide_one(rules: CampaignRules, cand: Candidate, channel: str | None, history: ContactHistory, day: date,
                policy: ContactPolicySettings, chosen: int, cap_since: date,
                offer_since: date | None) -> tuple[str | None, str]:
    """The rule that leaves this candidate out, in the order they apply, as (decision, reason);
    (None, "") when none does and the candidate is chosen."""
    key = cand.customer_key
    if not rules.consent_free and in_global_control(key, policy.global_control_share):
        return GLOBAL_CONTROL, "in the global control group: no campaign contacts them"
    if channel is None:
        unknown = [ch for ch in rules.channels if cand.row.get(CONSENT_COLUMNS[ch][0]) is None]
        if unknown and len(unknown) == len(rules.channels):
            return NO_CONSENT, ("consent unknown (the export has no consent column) for "
                                + " / ".join(rules.channels) + ": unknown is not consent")
        return NO_CONSENT, "no consent (or no address) for " + " / ".join(rules.channels)
    if rules.consent_free:
        return SEND, "team notification"
    earlier = history.chosen_today.get(key)
    if earlier is not None and earlier != rules.name:
        return EXCLUDED_BY_PRIORITY, f"chosen today by {earlier}, a campaign of higher priority"
    recent = [d for d in history.contacts.get(key, ()) if cap_since <= d <= day]
    if len(recent) >= policy.max_contacts:
        return CAPPED, f"{len(recent)} contacts in the last {policy.cap_window_days} days (cap {policy.max_contacts})"
    if rules.monetary_offer and offer_since is not None:
        last_offer = max((d for d in history.offers.get(key, ()) if offer_since <= d <= day), default=None)
        if last_offer is not None:
            return OFFER_SPACING, f"a monetary offer on {last_offer:%Y-%m-%d}: one per {policy.offer_spacing_days} days"
    if rules.daily_capacity is not None and chosen >= rules.daily_capacity:
        return OVER_CAPACITY, f"over the campaign's daily capacity ({rules.daily_capacity})"
    return None, ""


def reachable_channel(row: Mapping[str, object], channels: Sequence[str]) -> str | None:
    """The first channel the customer consented to (True, not unknown) and has an address for."""
    for channel in channels:
        consent, address = CONSENT_COLUMNS[channel]
        if row.get(consent) is True and row.get(address):
            return channel
    return None


# -- the call-center list's policy (orchestration/actions/call_center.py) ---------------------

@dataclass(frozen=True)
class ContactPolicy:
    campaign: str
    channel: str
    # Leave out anyone this campaign chose (either arm) in this many days before today.
    suppress_days: int
    # Share of eligible customers held out (not contacted) to measure the effect.
    holdout_share: float
    description: str
    # Most customers contacted (treatment arm) per day: what the team can handle. None = all.
    daily_capacity: int | None = None


CALL_CENTER_CHURN_RISK = ContactPolicy(
    campaign="call_center_churn_risk",
    channel="call_center",
    suppress_days=14,
    holdout_share=0.10,
    daily_capacity=150,
    description=(
        "The 解約予兆 call list: customers of `marts.high_risk_customers` (subscribers whose "
        "riskiest 定期 is in a high-risk band, and slipping 単品 repeat buyers), in its priority "
        "order (value at risk), with the reasons and the suggested action for each. Customers "
        "without a phone number or who refused phone contact (電話連絡: 不可) are never listed; "
        "anyone this campaign chose in the last 14 days is left out; the settings file's contact "
        "policy applies as to every campaign (global control group, contacts per customer across "
        "campaigns); 10% are held out at random "
        "to measure the effect; at most 150 are called a day (the held-out ones are drawn from "
        "the same priority range, so both arms stay comparable)."
    ),
)
