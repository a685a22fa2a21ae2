"""Every campaign as a Dagster asset downstream of its audience model.

The campaigns are decided together (one contact policy across campaigns: priority, caps, offer
spacing), so one multi-asset materializes them all; each campaign is its own asset
``actions/campaigns/<name>`` with its audience mart as its upstream, its counts and a sample
message (personal values masked) as metadata, and a warning check when consent cuts its whole
audience. Error-severity dbt checks upstream stop it like any downstream asset: nobody is
contacted on data a check flags.

Live or dry: a campaign reaches customers only when it is ``live`` in its file (or the settings
file's overrides), the settings file's ``campaigns.live`` is true and the channel's credentials
are set (connectors/channels/factory.py); otherwise every message is rendered into the outbox.
Quiet hours defer live mail and LINE only: a dry run renders at once (nobody is woken by it).
"""


import os
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from connectors.channels.factory import channel_from_env
from connectors.channels.outbox import Outbox
from orchestration.actions.campaigns import Campaign, load_campaigns
from orchestration.actions.contact_policy import ContactPolicySettings
from orchestration.actions.runner import plan_day, read_audience, send_day
from orchestration.merchant_settings import MerchantSettings
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

CONSENT_CHECK = "audience_is_not_all_cut_by_consent"
CALL_LIST = dg.AssetKey(["actions", "call_center_list"])


def campaign_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["actions", "campaigns", name])


def is_live(campaign: Campaign, merchant: MerchantSettings) -> bool:
    return merchant.campaigns.live and campaign.live


def build_campaign_assets(settings: Settings, merchant: MerchantSettings) -> list:
    campaigns = load_campaigns(merchant.campaigns)
    if not campaigns:
        return []
    # The call list is decided first: a customer the call center calls today is "chosen" and no
    # campaign of the day contacts them as well (contact_policy.py, priority).
    specs = [dg.AssetSpec(
        campaign_key(c.name), deps=[dg.AssetKey(["marts", c.audience]), CALL_LIST],
        group_name="campaigns",
        kinds=set(c.channels[:3]), description=f"{c.title}\n\n{c.why.strip()}",
        skippable=False, metadata={"audience": c.audience, "channels": ", ".join(c.channels),
                                   "priority": c.priority, "holdout_share": c.holdout_share,
                                   "live": is_live(c, merchant)}) for c in campaigns]
    checks = [dg.AssetCheckSpec(CONSENT_CHECK, asset=campaign_key(c.name), blocking=False,
                                description="Warns when customers are in the trigger window but consent "
                                            "(or a missing address) cuts every one of them.")
              for c in campaigns]
    tz = ZoneInfo(merchant.business.timezone)

    @dg.multi_asset(name="campaigns", specs=specs, check_specs=checks, pool=WAREHOUSE_POOL,
                    can_subset=False)
    def run_campaigns(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        day = settings.business_date()
        now = datetime.now(tz).replace(tzinfo=None)
        outbox = Outbox(settings.outbox_dir)
        policy: ContactPolicySettings = merchant.contact_policy
        channels: dict = {}

        def channel_for(campaign: Campaign, name: str):
            live = is_live(campaign, merchant)
            if (name, live) not in channels:
                channels[(name, live)] = channel_from_env(name, os.environ, merchant.channels, outbox, live=live,
                                                          timezone=merchant.business.timezone)
            return channels[(name, live)]

        with warehouse.connect() as con:
            audiences = {c.audience: read_audience(con, c.audience) for c in campaigns}
            reports = plan_day(con, campaigns, day, policy, audiences, run_id=context.run.run_id)
            # Quiet hours defer live sends only (see the module docstring).
            reports = send_day(con, campaigns, day, now, policy, channel_for, merchant.campaigns.merchant_name,
                               audiences, reports,
                               respect_quiet_hours=any(is_live(c, merchant) for c in campaigns))
        for campaign in campaigns:
            report = reports.get(campaign.name)
            key = campaign_key(campaign.name)
            if report is None:  # not active today (start/end, disabled)
                yield dg.MaterializeResult(asset_key=key, metadata={"active": False})
                yield dg.AssetCheckResult(asset_key=key, check_name=CONSENT_CHECK, passed=True,
                                          severity=dg.AssetCheckSeverity.WARN)
                continue
            counts = report.summary()
            reason = report.consent_note(campaign.channels)
            all_cut = bool(reason)
            if all_cut:
                context.log.warning(f"{campaign.name}: {reason}")
            context.log.info(f"{campaign.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
            yield dg.MaterializeResult(asset_key=key, metadata={
                **counts, "active": True, "action_date": day.isoformat(), "audience_rows": report.audience_rows,
                "in_trigger_window": report.in_window, "live": is_live(campaign, merchant),
                "consent_note": reason,
                "sample_message": dg.MetadataValue.md(f"```\n{report.sample or '(no audience row)'}\n```"),
                "outbox": dg.MetadataValue.path(str(settings.outbox_dir)),
            })
            yield dg.AssetCheckResult(asset_key=key, check_name=CONSENT_CHECK, passed=not all_cut,
                                      severity=dg.AssetCheckSeverity.WARN, metadata={"reason": reason})

    return [run_campaigns]
