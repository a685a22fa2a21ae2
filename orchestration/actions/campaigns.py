"""Campaigns as code: one YAML file per campaign, validated on load, templates checked against
the audience model's columns before anything is rendered.

The playbook ships in ``campaigns/`` at the repository root; a merchant adds campaigns (or
replaces a shipped one by its name) in the folder the settings file names
(``campaigns.folder``), and switches shipped ones on, off or live with ``campaigns.overrides``:
nobody edits the repository to run a campaign. A campaign file::

    name: risky_delivery_followup          # = the file name, letters, digits and _
    title: お届け前のフォロー（2〜4回目）
    why: >                                 # the reason, shown in the docs and the asset
      ...
    audience: audience_risky_delivery_followup   # a marts-layer dbt model, one row per customer
    channels: [line, mail]                 # the first one the customer consented to
    priority: 60                           # higher wins when campaigns want the same customer
    holdout_share: 0.1
    offer: {kind: skip_or_postpone, monetary: false, description: お届けのスキップ・延期}
    steps:
      - name: before_notice
        trigger: {column: days_until_next_notice, min: 2, max: 4}
    templates:
      mail: {subject: "...", body: "..."}
      line: {text: "..."}

Templates are Jinja (``jinja2``, the library dbt itself uses) with StrictUndefined: every
variable a template uses must be a column of the audience model (read from the dbt manifest) or
one of :data:`GLOBAL_VARIABLES`, or the campaign does not load; a value missing at render time
rejects that one message, never an empty string in a sent mail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestration.actions.contact_policy import CONSENT_COLUMNS, CampaignRules

PLAYBOOK_DIR = Path(__file__).resolve().parents[2] / "campaigns"
MANIFEST = Path(__file__).resolve().parents[2] / "dbt_project" / "target" / "manifest.json"

Channel = Literal["mail", "line", "postal_dm", "webhook"]
# Variables every template may use besides the audience's columns.
GLOBAL_VARIABLES = {"merchant_name", "offer", "campaign_title", "step", "action_date", "unsubscribe_url"}
# Columns every audience model must have (the contact policy and the ledger read them).
AUDIENCE_KEY_COLUMNS = {"customer_key", "source", "customer_id", "subscription_id", "priority_score"}
# Template parts per channel: the first is required.
TEMPLATE_PARTS = {"mail": ("subject", "body"), "line": ("text",), "postal_dm": ("text",), "webhook": ("text",)}
_NAME = re.compile(r"^[a-z][a-z0-9_]{2,62}$")


class CampaignFileError(ValueError):
    """A campaign file cannot be used: names the file, the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    # A clock column of the audience (days since / until something) and the window, inclusive.
    column: str
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> "Trigger":
        if self.min > self.max:
            raise ValueError(f"trigger min {self.min} is after max {self.max}")
        return self


class Step(_Strict):
    name: str = "main"
    trigger: Trigger
    # Audience columns that must equal these values for the step (e.g. delivery_count: 1).
    where: dict[str, int | str | bool] = {}

    def in_window(self, rows: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """The audience rows inside the step's trigger window and matching its `where`."""
        column, low, high = self.trigger.column, self.trigger.min, self.trigger.max
        where = tuple(self.where.items())
        for row in rows:
            clock = row.get(column)
            if clock is None or not low <= clock <= high:
                continue
            if where and not all(row.get(k) == v for k, v in where):
                continue
            yield row


class Offer(_Strict):
    kind: Literal["none", "coupon", "gift", "discount", "skip_or_postpone", "points"] = "none"
    code: str | None = None
    description: str = ""
    # Coupons, discounts and gifts cost money: one per customer per offer_spacing_days.
    monetary: bool | None = None

    @property
    def is_monetary(self) -> bool:
        return self.monetary if self.monetary is not None else self.kind in ("coupon", "gift", "discount")


class Campaign(_Strict):
    name: str
    title: str
    why: str
    audience: str
    channels: list[Channel] = Field(min_length=1)
    priority: int = Field(ge=0, le=1000)
    holdout_share: float = Field(ge=0.0, lt=1.0)
    offer: Offer = Offer()
    steps: list[Step] = Field(min_length=1)
    templates: dict[Channel, dict[str, str]]
    # The same step again for a customer only after this many days (None: never again).
    repeat_after_days: int | None = Field(default=None, ge=1)
    daily_capacity: int | None = Field(default=None, ge=1)
    allow_quiet_hours: bool = False
    start: date | None = None
    end: date | None = None
    enabled: bool = True
    # Dry-run unless the campaign is live AND the settings file's campaigns.live is true AND the
    # channel's credentials are set.
    live: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lower-case letters, digits and _ (3-63 characters)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Campaign":
        for channel in self.channels:
            parts = self.templates.get(channel)
            if not parts:
                raise ValueError(f"templates.{channel}: missing (the campaign can send by {channel})")
            allowed = TEMPLATE_PARTS[channel]
            unknown = sorted(set(parts) - set(allowed))
            if unknown:
                raise ValueError(f"templates.{channel}.{unknown[0]}: unknown part (allowed: {', '.join(allowed)})")
            missing = [p for p in allowed if not parts.get(p)]
            if missing:
                raise ValueError(f"templates.{channel}.{missing[0]}: missing")
        if "webhook" in self.channels and len(self.channels) > 1:
            raise ValueError("channels: a webhook (team notification) campaign has no other channel")
        names = [s.name for s in self.steps]
        if len(names) != len(set(names)):
            raise ValueError("steps: two steps share a name")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def active_on(self, day: date) -> bool:
        return self.enabled and (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def rules(self) -> CampaignRules:
        return CampaignRules(
            name=self.name, channels=tuple(self.channels), priority=self.priority,
            holdout_share=self.holdout_share, monetary_offer=self.offer.is_monetary,
            daily_capacity=self.daily_capacity, consent_free=self.channels == ["webhook"])


class CampaignOverride(_Strict):
    """What the settings file may change of a campaign without copying it."""

    enabled: bool | None = None
    live: bool | None = None
    holdout_share: float | None = Field(default=None, ge=0.0, lt=1.0)
    priority: int | None = Field(default=None, ge=0, le=1000)
    daily_capacity: int | None = Field(default=None, ge=1)
    start: date | None = None
    end: date | None = None


class CampaignSettings(_Strict):
    """The ``campaigns`` section of the settings file."""

    # The merchant's own campaign files (added to the playbook; same name replaces a shipped one).
    folder: str | None = None
    # Master switch: nothing reaches a customer for real unless true (and the campaign is live).
    live: bool = False
    merchant_name: str = "定期便ショップ"
    overrides: dict[str, CampaignOverride] = {}


# -- loading ------------------------------------------------------------------------------------

def load_campaigns(settings: CampaignSettings | None = None, *, playbook: Path = PLAYBOOK_DIR,
                   manifest: Path = MANIFEST) -> list[Campaign]:
    """Every campaign, validated: the playbook, then the merchant's folder, then the overrides."""
    settings = settings or CampaignSettings()
    by_name: dict[str, tuple[Campaign, Path]] = {}
    folders = [playbook] + ([Path(settings.folder)] if settings.folder else [])
    for folder in folders:
        if not folder.is_dir():
            raise CampaignFileError(f"{folder}: the campaigns folder does not exist")
        for path in sorted(folder.glob("*.yaml")):
            campaign = parse_campaign_file(path)
            by_name[campaign.name] = (campaign, path)
    for name, override in settings.overrides.items():
        if name not in by_name:
            raise CampaignFileError(f"settings campaigns.overrides.{name}: no campaign of that name "
                                    f"(known: {', '.join(sorted(by_name))})")
        campaign, path = by_name[name]
        changes = override.model_dump(exclude_none=True)
        try:
            by_name[name] = (Campaign.model_validate({**campaign.model_dump(), **changes}), path)
        except ValidationError as exc:
            raise CampaignFileError(f"settings campaigns.overrides.{name}: " + _errors(exc)) from None
    columns = audience_columns(manifest)
    for campaign, path in by_name.values():
        check_against_audience(campaign, path, columns)
    return sorted((c for c, _ in by_name.values()), key=lambda c: (-c.priority, c.name))


def parse_campaign_file(path: Path) -> Campaign:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CampaignFileError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        raise CampaignFileError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, Mapping):
        raise CampaignFileError(f"{path}: a campaign file is a mapping of keys (name, audience, ...)")
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignFileError(f"{path}: " + _errors(exc)) from None
    if campaign.name != path.stem:
        raise CampaignFileError(f"{path}: name: {campaign.name!r} differs from the file name {path.stem!r}")
    for channel, parts in campaign.templates.items():
        for part, source in parts.items():
            try:
                ENV.parse(source)
            except jinja2.TemplateSyntaxError as exc:
                raise CampaignFileError(f"{path}: templates.{channel}.{part} line {exc.lineno}: "
                                        f"{exc.message}") from None
    return campaign


def check_against_audience(campaign: Campaign, path: Path, columns: Mapping[str, set[str]]) -> None:
    """The audience is a marts model with the key columns; every clock and template variable is
    one of its columns."""
    where = f"{path}: "
    if campaign.audience not in columns:
        raise CampaignFileError(where + f"audience: {campaign.audience!r} is not a model of the marts layer")
    have = columns[campaign.audience]
    missing = sorted(AUDIENCE_KEY_COLUMNS - have)
    if missing:
        raise CampaignFileError(where + f"audience: {campaign.audience} lacks the column {missing[0]}")
    for channel in campaign.channels:
        if channel in CONSENT_COLUMNS:
            for column in CONSENT_COLUMNS[channel]:
                if column not in have:
                    raise CampaignFileError(where + f"channels: {channel} needs the audience column {column}")
    for i, step in enumerate(campaign.steps):
        if step.trigger.column not in have:
            raise CampaignFileError(where + f"steps.{i}.trigger.column: {step.trigger.column!r} is not a "
                                    f"column of {campaign.audience}")
        for column in step.where:
            if column not in have:
                raise CampaignFileError(where + f"steps.{i}.where.{column}: not a column of {campaign.audience}")
    for channel, parts in campaign.templates.items():
        for part, source in parts.items():
            unknown = sorted(template_variables(source) - have - GLOBAL_VARIABLES)
            if unknown:
                raise CampaignFileError(where + f"templates.{channel}.{part}: {{{{ {unknown[0]} }}}} is neither "
                                        f"a column of {campaign.audience} nor one of "
                                        f"{', '.join(sorted(GLOBAL_VARIABLES))}")


@lru_cache(maxsize=4)
def _manifest_columns(path: str, mtime: float) -> dict[str, frozenset[str]]:
    manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    return {n["name"]: frozenset(n["columns"]) for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["schema"] == "marts"}


def audience_columns(manifest: Path = MANIFEST) -> dict[str, set[str]]:
    """Marts model -> its documented columns (the contract), from the dbt manifest."""
    if not manifest.exists():
        raise CampaignFileError(f"{manifest}: no dbt manifest; run `make manifest` first")
    return {k: set(v) for k, v in _manifest_columns(str(manifest), manifest.stat().st_mtime).items()}


def _errors(exc: ValidationError) -> str:
    from orchestration.merchant_settings import describe_error

    return "; ".join(describe_error(e) for e in exc.errors())


# -- rendering ----------------------------------------------------------------------------------

def _jdate(value: Any) -> str:
    if value is None:
        raise jinja2.UndefinedError("a date is missing")
    return f"{value.year}年{value.month}月{value.day}日"


def _yen(value: Any) -> str:
    if value is None:
        raise jinja2.UndefinedError("an amount is missing")
    return f"{round(value):,}円"


class _EmptyValue(Exception):
    pass


def _finalize(value: Any) -> Any:
    # A NULL printed by {{ ... }} is an error; tested in {% if %} it is fine.
    if value is None:
        raise _EmptyValue
    return value


ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                         finalize=_finalize)
ENV.filters.update(jdate=_jdate, yen=_yen)


def template_variables(source: str) -> set[str]:
    return set(jinja2.meta.find_undeclared_variables(ENV.parse(source)))


class RenderError(ValueError):
    """A template could not be rendered for one customer (a value is missing)."""


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render one template part; a NULL printed by the template is an error, never an empty string."""
    try:
        return ENV.from_string(source).render(**variables)
    except _EmptyValue:
        nulls = sorted(v for v in template_variables(source) if variables.get(v, "") is None)
        raise RenderError(f"{' or '.join(nulls) or 'a value'} is empty for this customer") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(str(exc)) from None
