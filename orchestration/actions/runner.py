"""A day of campaigns: read each audience, decide under the contact policy, record, then send.

Two phases, each safe to repeat (orchestration/actions/ledger.py has the protocol):

1. :func:`plan_day`: every live-or-dry campaign active today reads its audience model, keeps the
   rows inside a step's trigger window that the step has not chosen before, and the contact
   policy (orchestration/actions/contact_policy.py) decides all campaigns together, in priority
   order. The decisions are committed, sends as ``planned``, before any channel is called.
2. :func:`send_day`: each campaign's ``planned`` sends are rendered (Jinja, from the audience
   row) and handed to the channel; each outcome is committed as the provider answers. Mail and
   LINE wait while the business time zone is in quiet hours (they stay planned for the next run).

Team notifications (a campaign whose channel is ``webhook``) go out as one digest message a day
listing the chosen customers, not one chat message per customer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from connectors.channels.base import OutboundMessage
from connectors.channels.outbox import OutboxChannel
from connectors.gc_pause import cycle_collector_paused
from orchestration.actions import ledger
from orchestration.actions.campaigns import Campaign, RenderError, render
from orchestration.actions.contact_policy import (
    QUIET_HOUR_CHANNELS, Candidate, ContactHistory, ContactPolicySettings, decide,
)
from orchestration.transform.personal_columns import personal_columns

# A sample message in asset metadata (read by the data team, not the customer) is rendered with
# the columns the mart contracts tag as personal data masked (transform/personal_columns.py).
MASK = "＊＊＊"
ChannelFor = Callable[[Campaign, str], OutboxChannel]


@dataclass
class CampaignDay:
    """What a campaign did today: decision counts (new this run and recorded in total), send
    outcomes, messages deferred by quiet hours, and a masked sample message."""

    campaign: str
    audience_rows: int = 0
    in_window: int = 0
    decisions: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    deferred_quiet_hours: int = 0
    sample: str | None = None

    def consent_note(self, channels: Sequence[str]) -> str:
        """Why nobody is chosen when consent (or a missing address) cuts every candidate; ""
        otherwise. An unknown consent (an export without the column) counts as no."""
        cut, decided = self.decisions["no_consent"], sum(self.decisions.values())
        if not decided or cut != decided:
            return ""
        return (f"all {cut:,} customers in the trigger window lack consent or an address for "
                f"{' / '.join(channels)} (unknown consent is no: map the consent column in the profile)")

    def summary(self) -> dict[str, int]:
        d, s = self.decisions, self.statuses
        return {"chosen": d["send"] + d["holdout"], "held_out": d["holdout"],
                "capped": d["capped"] + d["offer_spacing"] + d["over_capacity"],
                "excluded_by_priority": d["excluded_by_priority"], "no_consent": d["no_consent"],
                "global_control": d["global_control"], "sent": s["sent"] + s["already_sent"],
                "sent_dry": s["dry_run"], "failed": s["failed"] + s["rejected"] + s["dropped"],
                "in_doubt": s["in_doubt"], "deferred_quiet_hours": self.deferred_quiet_hours}


def read_audience(con: duckdb.DuckDBPyConnection, audience: str) -> list[dict[str, Any]]:
    # `audience` was checked against the dbt manifest's marts models when the campaign loaded.
    cur = con.execute(f'select * from marts."{audience}"')
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def plan_day(con: duckdb.DuckDBPyConnection, campaigns: Sequence[Campaign], day: date,
             policy: ContactPolicySettings, audiences: Mapping[str, list[dict]] | None = None,
             run_id: str | None = None) -> dict[str, CampaignDay]:
    """Decide today's new candidates of every active campaign and commit the decisions."""
    # hundreds of thousands of tuples and dicts, none in a cycle (1.5 of 8 s at 100,000 customers)
    with cycle_collector_paused():
        return _plan_day(con, campaigns, day, policy, audiences, run_id)


def _plan_day(con: duckdb.DuckDBPyConnection, campaigns: Sequence[Campaign], day: date,
              policy: ContactPolicySettings, audiences: Mapping[str, list[dict]] | None,
              run_id: str | None) -> dict[str, CampaignDay]:
    ledger.ensure_ledger(con)
    active = [c for c in campaigns if c.active_on(day)]
    reports = {c.name: CampaignDay(c.name) for c in active}
    candidates: dict[str, list[Candidate]] = {}
    for campaign in active:
        rows = audiences[campaign.audience] if audiences is not None else read_audience(con, campaign.audience)
        report = reports[campaign.name]
        report.audience_rows = len(rows)
        since = day - timedelta(days=campaign.repeat_after_days) if campaign.repeat_after_days else None
        done = ledger.decided_steps(con, campaign.name, since, day)
        found: list[Candidate] = []
        for step in campaign.steps:
            inside = list(step.in_window(rows))
            report.in_window += len(inside)
            for row in inside:
                key = row["customer_key"]
                if (key, step.name) not in done:
                    found.append(Candidate(campaign.name, step.name, key, row,
                                           float(row.get("priority_score") or 0.0)))
        # A customer in two steps' windows today takes the first step only.
        seen: set[str] = set()
        candidates[campaign.name] = [c for c in found if not (c.customer_key in seen or seen.add(c.customer_key))]
    lookback = max(policy.cap_window_days, policy.offer_spacing_days, 1)
    history = ContactHistory.from_rows(ledger.chosen_history(con, day - timedelta(days=lookback), day), day)
    decisions = decide([c.rules() for c in active], candidates, history, day, policy)
    by_campaign: dict[str, list[ledger.LedgerEntry]] = defaultdict(list)
    offers = {c.name: c.offer for c in active}
    monetary = {c.name: c.offer.is_monetary for c in active}
    for d in decisions:
        cand, arm = d.candidate, d.arm
        row = cand.row
        by_campaign[cand.campaign].append(ledger.LedgerEntry(  # positional: a quarter of the time of keywords
            cand.customer_key, arm, row.get("source"), row.get("customer_id"), row.get("subscription_id"),
            d.reason, cand.step, d.decision, d.channel, offers[cand.campaign].code if arm else None,
            arm is not None and monetary[cand.campaign]))
        reports[cand.campaign].decisions[d.decision] += 1
    ledger.record_day_decisions(con, day, {name: (None, entries) for name, entries in by_campaign.items()},
                                run_id=run_id)
    return reports


def send_day(con: duckdb.DuckDBPyConnection, campaigns: Sequence[Campaign], day: date, now: datetime,
             policy: ContactPolicySettings, channel_for: ChannelFor, merchant_name: str,
             audiences: Mapping[str, list[dict]] | None = None,
             reports: dict[str, CampaignDay] | None = None,
             respect_quiet_hours: bool = True) -> dict[str, CampaignDay]:
    """Send every planned message of the day's campaigns; record each outcome as it arrives.
    `respect_quiet_hours=False` renders at once (a dry run wakes nobody)."""
    reports = reports if reports is not None else {}
    for campaign in (c for c in campaigns if c.active_on(day)):
        report = reports.setdefault(campaign.name, CampaignDay(campaign.name))
        rows = audiences[campaign.audience] if audiences is not None else read_audience(con, campaign.audience)
        by_key = {r["customer_key"]: r for r in rows}
        for channel_name in campaign.channels:
            channel = channel_for(campaign, channel_name)
            pending = [p for p in ledger.pending_sends(con, campaign.name, day, channel.resends_in_doubt)
                       if p["channel"] == channel_name]
            if not pending:
                continue
            if (respect_quiet_hours and channel_name in QUIET_HOUR_CHANNELS
                    and not campaign.allow_quiet_hours and policy.in_quiet_hours(now)):
                report.deferred_quiet_hours += len(pending)
                continue
            _send(con, campaign, channel, pending, by_key, day, merchant_name, report)
        _count_statuses(con, campaign.name, day, report)
        if report.sample is None and rows:
            report.sample = sample_message(campaign, rows[0], day, merchant_name)
    return reports


def _send(con, campaign: Campaign, channel: OutboxChannel, pending: list[dict], by_key: Mapping[str, dict],
          day: date, merchant_name: str, report: CampaignDay) -> None:
    messages: list[OutboundMessage] = []
    digest_rows: list[tuple[dict, str]] = []
    for p in pending:
        row = by_key.get(p["customer_key"])
        if row is None:
            ledger.mark_status(con, campaign.name, day, p["idempotency_key"], "dropped",
                               error="no longer in the audience when the message was rendered")
            continue
        try:
            parts = _render_parts(campaign, channel.name, row, p["step"], day, merchant_name)
        except RenderError as exc:
            ledger.mark_status(con, campaign.name, day, p["idempotency_key"], "rejected",
                               error=f"template: {exc}")
            continue
        if channel.name == "webhook":
            digest_rows.append((p, parts["text"]))
        else:
            messages.append(_message(campaign, channel.name, p, row, parts))
    if digest_rows:
        key = f"{campaign.name}:digest:{day:%Y%m%d}"
        text = "\n".join(f"• {t}" for _, t in digest_rows)
        messages = [OutboundMessage(key, campaign.name, "team", "call_center",
                                    body_text=text, subject=f"{campaign.title} ({day:%Y-%m-%d}, {len(digest_rows)}件)")]
    if not messages:
        return
    if not channel.dry_run:
        messages = _in_recorded_batches(con, channel, messages, pending)
    if hasattr(channel, "before_transmit"):
        channel.before_transmit = lambda key: ledger.mark_status(con, campaign.name, day, key, "in_doubt")
    for result in channel.send(messages):
        keys = [p["idempotency_key"] for p, _ in digest_rows] if digest_rows else [result.idempotency_key]
        for key in keys:
            ledger.mark_status(con, campaign.name, day, key, result.status, result.provider_message_id,
                               result.error)


def _in_recorded_batches(con, channel: OutboxChannel, messages: list[OutboundMessage],
                         pending: list[dict]) -> list[OutboundMessage]:
    """The messages with the batch each goes out in (LINE multicast): a batch recorded by an
    earlier, interrupted run is kept, new ones are recorded before anything is sent."""
    batch_of = {p["idempotency_key"]: p["send_batch"] for p in pending if p.get("send_batch")}
    new = channel.assign_batches([m for m in messages if m.idempotency_key not in batch_of])
    ledger.record_batches(con, new)
    batch_of.update(new)
    return [replace(m, send_batch=batch_of[m.idempotency_key]) if m.idempotency_key in batch_of else m
            for m in messages]


def _variables(campaign: Campaign, row: Mapping[str, Any], step: str, day: date, merchant_name: str) -> dict:
    return {**row, "merchant_name": merchant_name, "offer": campaign.offer.model_dump(),
            "campaign_title": campaign.title, "step": step, "action_date": day,
            "unsubscribe_url": row.get("unsubscribe_url")}


def _render_parts(campaign: Campaign, channel: str, row: Mapping[str, Any], step: str, day: date,
                  merchant_name: str) -> dict[str, str]:
    variables = _variables(campaign, row, step, day, merchant_name)
    return {part: render(source, variables) for part, source in campaign.templates[channel].items()}


def _message(campaign: Campaign, channel: str, p: Mapping[str, Any], row: Mapping[str, Any],
             parts: Mapping[str, str]) -> OutboundMessage:
    key = p["idempotency_key"]
    if channel == "mail":
        extra = {"unsubscribe_url": row["unsubscribe_url"]} if row.get("unsubscribe_url") else {}
        return OutboundMessage(key, campaign.name, p["customer_key"], str(row["email"]),
                               body_text=parts["body"], subject=parts["subject"], extra=extra)
    if channel == "line":
        return OutboundMessage(key, campaign.name, p["customer_key"], str(row["line_user_id"]),
                               body_text=parts["text"], subject=campaign.title)
    # postal_dm: the print vendor's address file (connectors/channels/postal_dm.py)
    fields = {"オファー": campaign.offer.description} if campaign.offer.description else {}
    if campaign.offer.code:
        fields["クーポンコード"] = campaign.offer.code
    return OutboundMessage(key, campaign.name, p["customer_key"], p["customer_key"], body_text=parts["text"],
                           extra={"postal_code": row.get("postal_code"), "prefecture": row.get("prefecture"),
                                  "address1": row.get("address1"), "address2": row.get("address2"),
                                  "full_name": row.get("full_name"), "customer_id": row.get("customer_id"),
                                  "fields": fields})


def sample_message(campaign: Campaign, row: Mapping[str, Any], day: date, merchant_name: str) -> str:
    """The campaign's first channel's message for one audience row, personal values masked."""
    personal = personal_columns()
    masked = {k: (MASK if k in personal and v is not None else v) for k, v in row.items()}
    try:
        parts = _render_parts(campaign, campaign.channels[0], masked, campaign.steps[0].name, day, merchant_name)
    except RenderError as exc:
        return f"(sample not rendered: {exc})"
    return "\n\n".join(parts.values())[:2000]


def _count_statuses(con, campaign: str, day: date, report: CampaignDay) -> None:
    report.statuses = Counter(dict(con.execute(
        f"""select status, count(*) from {ledger.LEDGER_TABLE}
            where campaign = ? and action_date = ? and status is not null group by status""",
        [campaign, day]).fetchall()))
