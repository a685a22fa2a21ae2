"""A small campaign world for the send tests: an audience table in a real DuckDB file, two
campaign files (mail, LINE) and the manifest entry that declares the audience's columns."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb

DAY = date(2026, 12, 1)
NOON = datetime(2026, 12, 1, 12, 0)
CUSTOMERS = 12
COLUMNS = {"customer_key": "varchar", "source": "varchar", "customer_id": "varchar",
           "subscription_id": "varchar", "priority_score": "double", "full_name": "varchar",
           "email": "varchar", "email_opt_in": "boolean", "line_user_id": "varchar",
           "line_opt_in": "boolean", "product_name": "varchar", "next_delivery_date": "date",
           "days_until_next_notice": "integer"}

CAMPAIGN = """\
name: {name}
title: テスト {name}
why: the send tests
audience: audience_send_test
channels: [{channel}]
priority: {priority}
holdout_share: 0.25
steps:
  - name: main
    trigger: {{column: days_until_next_notice, min: 1, max: 5}}
templates:
  mail:
    subject: "【{{{{ merchant_name }}}}】{{{{ product_name }}}}のお届け"
    body: "{{{{ full_name }}}}様\\n次回のお届けは{{{{ next_delivery_date | jdate }}}}です。"
  line:
    text: "{{{{ full_name }}}}様、次回は{{{{ next_delivery_date | jdate }}}}です。"
"""


def line_user(i: int) -> str:
    return f"U{i:032x}"


def build(root: Path, line_text: str | None = None) -> dict[str, Path]:
    """Warehouse, campaign folder, playbook (empty) and manifest under `root`; `line_text`: one
    text for every LINE customer (no per-customer variable: it goes out by multicast)."""
    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.audience_send_test ("
                + ", ".join(f"{c} {t}" for c, t in COLUMNS.items()) + ")")
    rows = []
    for i in range(CUSTOMERS):
        mail_only = i % 2 == 0
        rows.append([f"c{i:02d}", "csv", f"C{i:04d}", f"S{i:04d}", float(100 - i), f"山田 花子{i}",
                     f"c{i}@example.jp", mail_only, line_user(i), not mail_only, "青汁定期便",
                     date(2026, 12, 10), 1 + i % 5])
    con.executemany(f"insert into marts.audience_send_test values ({', '.join('?' * len(COLUMNS))})", rows)
    con.close()
    folder = root / "campaigns"
    folder.mkdir(exist_ok=True)
    (folder / "mail_test.yaml").write_text(CAMPAIGN.format(name="mail_test", channel="mail", priority=60), "utf-8")
    line_campaign = CAMPAIGN.format(name="line_test", channel="line", priority=50)
    if line_text is not None:
        line_campaign = line_campaign.replace(
            '    text: "{{ full_name }}様、次回は{{ next_delivery_date | jdate }}です。"', f'    text: "{line_text}"')
        assert line_text in line_campaign
    (folder / "line_test.yaml").write_text(line_campaign, "utf-8")
    playbook = root / "playbook"
    playbook.mkdir(exist_ok=True)
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"nodes": {"model.teiki.audience_send_test": {
        "name": "audience_send_test", "resource_type": "model", "schema": "marts",
        "columns": {c: {} for c in COLUMNS}}}}), "utf-8")
    return {"warehouse": warehouse, "campaigns": folder, "playbook": playbook, "manifest": manifest,
            "outbox": root / "outbox"}


def run_day(paths: dict[str, Path], env: dict[str, str], *, live: bool, plan_only: bool = False,
            now: datetime = NOON, max_contacts: int = 9):
    """Plan and send the day exactly as the campaigns asset does (no Dagster), through real channels."""
    from connectors.channels.factory import channel_from_env
    from connectors.channels.settings import ChannelsSettings, LineSettings, MailSettings
    from orchestration.actions.campaigns import CampaignSettings, load_campaigns
    from orchestration.actions.contact_policy import ContactPolicySettings
    from orchestration.actions.runner import plan_day, send_day

    settings = CampaignSettings(folder=str(paths["campaigns"]), live=live)
    campaigns = load_campaigns(settings, playbook=paths["playbook"], manifest=paths["manifest"])
    policy = ContactPolicySettings(max_contacts=max_contacts)
    channels_settings = ChannelsSettings(mail=MailSettings(from_address="info@shop.example.jp", rate_per_second=500),
                                         line=LineSettings(concurrency=1, rate_per_second=500))
    con = duckdb.connect(str(paths["warehouse"]))
    try:
        reports = plan_day(con, campaigns, DAY, policy)
        if plan_only:
            return reports
        made = {}

        def channel_for(campaign, name):
            if name not in made:
                made[name] = channel_from_env(name, env, channels_settings, paths["outbox"], live=live)
            return made[name]

        return send_day(con, campaigns, DAY, now, policy, channel_for, "定期便ショップ", reports=reports)
    finally:
        con.close()


if __name__ == "__main__":  # the process the kill tests SIGKILL: python campaign_world.py <root> live|plan
    import os

    root, mode = Path(sys.argv[1]), sys.argv[2]
    paths = {"warehouse": root / "warehouse.duckdb", "campaigns": root / "campaigns",
             "playbook": root / "playbook", "manifest": root / "manifest.json", "outbox": root / "outbox"}
    run_day(paths, dict(os.environ), live=True, plan_only=mode == "plan")
    print("done", flush=True)
