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
    # Most customers contacted (treatment arm) per day: what the team can handle. None = all.
    daily_capacity: int | None = None


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
        "anyone this campaign chose in the last 14 days is left out; 10% are held out at random "
        "to measure the effect; at most 150 are called a day (the held-out ones are drawn from "
        "the same priority range, so both arms stay comparable)."
    ),
)
