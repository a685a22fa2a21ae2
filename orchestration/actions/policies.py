"""Every action's contact policy, in one place.

A policy says who may be contacted and how often, and how many are held out at random so the
campaign's real effect can be measured (treatment vs holdout in the action ledger). Defaults
here; the Dagster run config of each action asset can override them for a run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ContactPolicy:
    campaign: str
    channel: str
    # Leave out anyone this campaign chose (either arm) in this many days before today.
    suppress_days: int
    # Share of eligible customers held out (not contacted) to measure the effect.
    holdout_share: float
    description: str


CALL_CENTER_CANCEL_SIGNAL = ContactPolicy(
    campaign="call_center_cancel_signal",
    channel="call_center",
    suppress_days=14,
    holdout_share=0.10,
    description=(
        "Active subscribers who visited the cancel page or made a 解約相談 contact in the last "
        "`cancel_signal_days` days (dbt var, default 7): the call center calls them before the "
        "next delivery. Customers without a phone number or who refused phone contact (電話連絡: "
        "不可) are never listed."
    ),
)


def assign_arm(campaign: str, customer_key: str, holdout_share: float) -> str:
    """Stable random assignment: the same customer stays in the same arm of a campaign every day.

    A hash rather than a random draw, so a re-run, a backfill or another machine agree, and a
    customer who qualifies again later is not re-randomised into treatment.
    """
    if not 0.0 <= holdout_share < 1.0:
        raise ValueError(f"holdout_share must be in [0, 1), got {holdout_share}")
    digest = hashlib.sha256(f"{campaign}\x1f{customer_key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "holdout" if u < holdout_share else "treatment"
