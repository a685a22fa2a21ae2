"""The merchant's settings file: every setting a merchant changes, in one YAML file outside the repository.

Its path comes from the environment variable TEIKI_SETTINGS; unset, no file is read and every
default applies (the demo needs none). Nobody edits a file of the repository to configure Teiki:
dbt thresholds, contact policies and campaign overrides, the profile and source choice, the
business time zone all live here.

    # /etc/teiki/teiki.yaml  (export TEIKI_SETTINGS=/etc/teiki/teiki.yaml)
    business:
      timezone: Asia/Tokyo
    csv_export:
      dir: /srv/teiki/exports      # where the cart's CSV exports are dropped
      profile: /etc/teiki/my_cart.yaml
    dbt_vars:
      cpm_spend_yen: 50000
      ltv_annual_discount_rate: 0.08
    contact_policy:
      max_contacts: 2          # per customer per cap_window_days, across all campaigns
      cap_window_days: 7
    campaigns:
      folder: /etc/teiki/campaigns   # the merchant's own campaign files
      live: false                    # nothing reaches a customer for real until true
      overrides:
        birthday: {enabled: false}
        winback: {live: true, holdout_share: 0.2}

The schema is declared here, one section per domain, each a strict pydantic model: an unknown key
or a value of the wrong type is an error naming the file and the key (``SettingsFileError``).
A section's model lives next to the code that uses it when it grows beyond a few fields; it is
registered in :class:`MerchantSettings` so the whole schema is read from one class.

dbt vars are not re-declared here: ``dbt_vars`` accepts exactly the vars that
``dbt_project/dbt_project.yml`` declares (their defaults live there, once), with the type of the
declared default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from connectors.channels.settings import ChannelsSettings
from orchestration.actions.campaigns import CampaignSettings
from orchestration.actions.contact_policy import ContactPolicySettings
from orchestration.ownership import OwnerSettings

DBT_PROJECT_YML = Path(__file__).resolve().parent.parent / "dbt_project" / "dbt_project.yml"
SETTINGS_ENV = "TEIKI_SETTINGS"


class SettingsFileError(ValueError):
    """The settings file cannot be used: names the file and the key, never a secret's value."""


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are not silently coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class BusinessSettings(Section):
    # The merchant's business time zone: business dates, quiet hours and schedules follow it.
    timezone: str = "Asia/Tokyo"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Tokyo)") from None
        return value


class FreshnessSettings(Section):
    # The newest export file of each CSV stream must be at most this old (hours): a daily export
    # plus a few hours of slack.
    export_max_age_hours: float = 30.0
    # The BI snapshot must have been published at most this long ago (hours).
    snapshot_max_age_hours: float = 26.0
    # "warn" reports; "error" also blocks everything downstream of a stale stream.
    severity: Literal["warn", "error"] = "warn"


class AlertSettings(Section):
    # Where alert texts link a run: the Dagster UI's address as the data team opens it.
    dagster_url: str = "http://127.0.0.1:3000"
    # Post a digest of failed warning checks after each successful refresh.
    warning_digest: bool = True
    # The data team's addresses: alerts are also mailed there through the mail channel
    # (TEIKI_SMTP_*; without an SMTP relay, a dry run into the outbox). Empty: chat only.
    mail_to: list[str] = []

    @field_validator("mail_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c in address for c in " <>\r\n"):
                raise ValueError(f"not a plain e-mail address: {address!r}")
        return value


class BiSnapshotSettings(Section):
    # False publishes the snapshot without the columns the mart contracts tag as personal data
    # (names, kana, e-mail, phone, LINE id, postal address, birthday): for BI tools and dashboards
    # that count and chart customers but never need to show one.
    include_contact_columns: bool = True


class RunSettings(Section):
    # A run that finds another run writing the warehouse waits this long (minutes) for it to
    # finish, then fails without writing (orchestration/warehouse_lock.py). Longer than a full
    # refresh takes, so the 09:00 send waits out a late 06:00 refresh instead of failing.
    warehouse_lock_timeout_minutes: float = 60.0

    @field_validator("warehouse_lock_timeout_minutes")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be 0 (do not wait) or more minutes")
        return value


class CsvExportSettings(Section):
    """The ``csv_export`` section: where the cart's CSV exports arrive and how to read them."""

    # Folder the cart's CSV exports are dropped into; unset: no CSV source (the demo merchant when
    # no cart API is configured either). TEIKI_CSV_EXPORT_DIR overrides it for one process.
    dir: str | None = None
    # Column profile: a name in connectors/csv_export/profiles/ or a path to the merchant's own.
    # TEIKI_CSV_PROFILE overrides it for one process.
    profile: str = "demo_merchant"

    @field_validator("dir", "profile")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (leave the key out for the default)")
        return value


class MerchantSettings(Section):
    """The whole file. Each domain adds its section here, with defaults, in one line."""

    business: BusinessSettings = BusinessSettings()
    # The CSV path: export folder and column profile.
    csv_export: CsvExportSettings = CsvExportSettings()
    freshness: FreshnessSettings = FreshnessSettings()
    alerts: AlertSettings = AlertSettings()
    # What the BI snapshot (data/bi/) carries.
    bi_snapshot: BiSnapshotSettings = BiSnapshotSettings()
    # How runs share the warehouse: how long one waits for another to finish.
    runs: RunSettings = RunSettings()
    # Outbound channels' non-secret settings (sender, encoding, rates); secrets are env vars.
    channels: ChannelsSettings = ChannelsSettings()
    # Consent, caps, quiet hours, offer spacing, global control: every campaign, every channel.
    contact_policy: ContactPolicySettings = ContactPolicySettings()
    # The merchant's own campaign folder, the live switch and per-campaign overrides.
    campaigns: CampaignSettings = CampaignSettings()
    # Who owns which assets in the UI (the data team, the CRM team): e-mails or team:<name>.
    owners: OwnerSettings = OwnerSettings()
    # dbt vars overriding dbt_project.yml's defaults; passed to every dbt call.
    dbt_vars: dict[str, Any] = {}

    @field_validator("dbt_vars")
    @classmethod
    def _declared_vars(cls, value: dict[str, Any]) -> dict[str, Any]:
        declared = declared_dbt_vars()
        for name, given in value.items():
            if name not in declared:
                raise ValueError(f"unknown dbt var {name!r}: not declared in dbt_project/dbt_project.yml")
            expected = _type_name(declared[name])
            if expected != "any" and _type_name(given) != expected:
                raise ValueError(f"dbt var {name!r} must be a {expected} (its default is {declared[name]!r})")
        return value


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, str):
        # An empty-string default means "unset / derived": any scalar may be given.
        return "string" if value and "{{" not in value else "any"
    return "any"


@lru_cache(maxsize=1)
def declared_dbt_vars() -> dict[str, Any]:
    """The vars dbt_project.yml declares, with their defaults: the one place they are written."""
    project = yaml.safe_load(DBT_PROJECT_YML.read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


def load_merchant_settings(env: Mapping[str, str] | None = None) -> MerchantSettings:
    """Read and validate the file named by TEIKI_SETTINGS; defaults when unset."""
    env = os.environ if env is None else env
    raw_path = (env.get(SETTINGS_ENV) or "").strip()
    if not raw_path:
        return MerchantSettings()
    return parse_settings_file(Path(raw_path))


def parse_settings_file(path: Path) -> MerchantSettings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsFileError(f"{path}: cannot read the settings file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SettingsFileError(f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SettingsFileError(f"{path}: the top level must be a mapping of sections")
    try:
        return MerchantSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsFileError(f"{path}: " + "; ".join(describe_error(e) for e in exc.errors())) from None


def describe_error(error: Mapping[str, Any]) -> str:
    key = ".".join(str(part) for part in error.get("loc", ())) or "(top level)"
    if error.get("type") == "extra_forbidden":
        return f"{key}: unknown key"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    # The message only: pydantic's input echo could be a secret or a customer's data.
    return f"{key}: {message}"


def effective_dbt_vars(settings: MerchantSettings | None = None) -> dict[str, Any]:
    """Every declared dbt var with the value in force: the file's override, else the default.

    Python code that shares a threshold with the dbt models (a discount rate, a risk band) reads
    it here, so the two can never disagree.
    """
    settings = load_merchant_settings() if settings is None else settings
    return {**declared_dbt_vars(), **settings.dbt_vars}
