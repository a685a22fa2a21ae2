"""Who to ask about an asset, and which part of the pipeline it belongs to: owners and a domain tag
on every asset, from its group, in one table.

The data team owns what turns exports into numbers (loads, dbt, model fits, the BI snapshot);
the CRM team owns what reaches a customer (the call list, campaigns, on-site offers). Their
addresses come from the settings file (`owners`), so the UI's owner filter and an alert's
"owner" line name real people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
from pydantic import BaseModel, ConfigDict

# asset group -> (domain tag, team); a group not listed is the data team's, domain "other"
GROUPS: dict[str, tuple[str, str]] = {
    "csv_exports": ("ingestion", "data"),
    "raw": ("ingestion", "data"),
    "reference": ("transform", "data"),
    "staging": ("transform", "data"),
    "intermediate": ("transform", "data"),
    "marts": ("transform", "data"),
    "model_params": ("modeling", "data"),
    "publish": ("publish", "data"),
    "actions": ("actions", "crm"),
    "campaigns": ("actions", "crm"),
}
DOMAIN_TAG = "teiki/domain"


class OwnerSettings(BaseModel):
    """The ``owners`` section of the settings file: e-mail addresses or ``team:<name>``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    data_team: list[str] = ["team:data"]
    crm_team: list[str] = ["team:crm"]


def with_ownership(assets: Iterable[Any], owners: OwnerSettings) -> Sequence[Any]:
    """Every asset spec of `assets` with its team's owners (unless it names its own) and its
    domain tag."""
    teams = {"data": owners.data_team, "crm": owners.crm_team}

    def own(spec: dg.AssetSpec) -> dg.AssetSpec:
        domain, team = GROUPS.get(spec.group_name or "", ("other", "data"))
        if spec.key.path[0] == "actions":  # the ledger's source asset has no group of its own
            domain, team = "actions", "crm"
        return spec.merge_attributes(owners=[] if spec.owners else teams[team], tags={DOMAIN_TAG: domain})

    return dg.map_asset_specs(own, list(assets))
