"""The Teiki code location: one Definitions object built from small per-domain modules."""

from __future__ import annotations

import os

import dagster as dg

from orchestration.actions.call_center import build_action_assets
from orchestration.actions.campaign_assets import build_campaign_assets
from orchestration.actions.onsite_offers import build_onsite_offer_assets
from orchestration.ingestion.api_sources import build_api_source_assets
from orchestration.ingestion.csv_exports import build_csv_export_assets
from orchestration.modeling.churn_hazard import build_churn_hazard_assets
from orchestration.modeling.repeat_buyers import build_repeat_buyer_assets
from orchestration.merchant_settings import load_merchant_settings
from orchestration.modeling.sbg import build_sbg_assets
from orchestration.observability.alerts import alert_deliverer, build_alert_sensors
from orchestration.observability.freshness import build_freshness_checks, build_freshness_job_and_schedule
from orchestration.observability.republish import build_republish_sensor
from orchestration.ownership import with_ownership
from orchestration.publish.assets import build_publish_assets
from orchestration.resources import WarehouseResource, dbt_cli_resource
from orchestration.schedules import (
    campaign_send_job, campaign_send_schedule, daily_refresh_job, daily_refresh_schedule,
)
from orchestration.settings import CSV_SOURCE, Settings, load_settings
from orchestration.transform.dbt_models import build_dbt_assets
from orchestration.transform.prepare import ensure_manifest
from connectors.csv_export import load_profile


def build_definitions(settings: Settings) -> dg.Definitions:
    # The staging models in the manifest depend on the configured sources: one parsed for other
    # sources is parsed again here, never used as it is (transform/prepare.py).
    ensure_manifest(settings)
    merchant = load_merchant_settings()
    dbt_models = build_dbt_assets(settings)
    csv_streams = list(load_profile(settings.csv_profile).streams) if CSV_SOURCE in settings.sources else []
    freshness_checks = build_freshness_checks(settings, merchant.freshness, csv_streams)
    freshness_job, freshness_schedule = build_freshness_job_and_schedule(
        freshness_checks, merchant.business.timezone)
    return dg.Definitions(
        # Owners and a domain tag on every asset, from its group (orchestration/ownership.py).
        assets=with_ownership([
            # Cart CSV exports (or the demo merchant): not when only cart APIs are configured.
            *(build_csv_export_assets(settings) if CSV_SOURCE in settings.sources else []),
            # Cart APIs (Shopify, Recharge, ...): only those whose credentials are set.
            *build_api_source_assets(settings),
            dbt_models,
            # Fits between dbt steps: reads marts.subscriptions, feeds the LTV marts.
            *build_sbg_assets(settings),
            # 解約予兆 hazard model: reads the churn features, feeds churn_risk_scores; refit every refresh.
            *build_churn_hazard_assets(settings),
            # BG/NBD + Gamma-Gamma for one-off buyers: reads the repeat-purchase summary, feeds repeat_buyer_scores.
            *build_repeat_buyer_assets(settings),
            *build_action_assets(settings, merchant.contact_policy),
            *build_onsite_offer_assets(settings),  # on-site offers: eligibility file out, events in
            # Every campaign (campaigns/ + the merchant's folder), one asset each, under one policy.
            *build_campaign_assets(settings, merchant),
            *build_publish_assets(settings, dbt_models),
        ], merchant.owners),
        # Freshness of each export stream and of the BI snapshot (orchestration/observability/).
        asset_checks=freshness_checks,
        jobs=[daily_refresh_job, campaign_send_job, freshness_job],
        schedules=[daily_refresh_schedule, campaign_send_schedule, freshness_schedule],
        sensors=[
            build_republish_sensor(),
            *build_alert_sensors(
                merchant.alerts, alert_deliverer(os.environ, settings.outbox_dir / "alerts", merchant.alerts, merchant.channels),
                lambda: settings.business_date().isoformat()),
        ],
        resources={
            # Held by one run at a time, whatever started it (orchestration/warehouse_lock.py).
            "warehouse": WarehouseResource(
                path=str(settings.warehouse),
                run_lock_timeout_seconds=merchant.runs.warehouse_lock_timeout_minutes * 60),
            "dbt": dbt_cli_resource(),
        },
        # One process per run: dbt is parsed once, not once per step (about 2x faster; ARCHITECTURE.md, known traps).
        executor=dg.in_process_executor,
    )


defs = build_definitions(load_settings())
