"""Alerts reach the data team's chat: a failed morning run and a successful one with warnings,
posted to a real local Slack-compatible webhook server."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster import DagsterEventType

from demo_pipeline import teiki_env
from connectors.channels.outbox import ChannelConfigError
from connectors.testing.smtp_server import SmtpServer
from orchestration.merchant_settings import AlertSettings
from orchestration.observability.alerts import (
    AlertNotDelivered,
    build_alert_sensors,
    failure_alert,
    alert_deliverer,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "connectors"))
from servers.scripted_server import ScriptedServer  # noqa: E402

HOOK = "/services/T0TEIKI/B0ALERTS/s3cr3tW3bh00kT0k3n"
SETTINGS = AlertSettings(dagster_url="http://dagster.example:3000")


def _slack(srv: ScriptedServer) -> ScriptedServer:
    srv.route(HOOK, lambda req: (200, "ok"))  # Slack answers a plain "ok"
    return srv


def _posted(srv: ScriptedServer) -> list[str]:
    return [json.loads(r.body)["text"] for r in srv.requests if r.path == HOOK]


def _sensors(url: str | None, outbox: Path):
    deliver = alert_deliverer({"TEIKI_WEBHOOK_URL_ALERTS": url} if url else {}, outbox)
    failure, digest = build_alert_sensors(SETTINGS, deliver, lambda: "2026-11-23")
    return failure, digest


def _run_job(tmp_path: Path, exports: Path, job_name: str):
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    with teiki_env(tmp_path):
        os.environ["TEIKI_CSV_EXPORT_DIR"] = str(exports)
        job = build_definitions(load_settings()).resolve_job_def(job_name)
        instance = dg.DagsterInstance.ephemeral()
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    return instance, result


def _event(instance, run_id, kind):
    return instance.all_logs(run_id, of_type=kind)[0].dagster_event


def test_a_failed_refresh_posts_the_step_the_error_and_a_link(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    # A broken export: the refresh fails at the raw load, as a cart's bad file would make it.
    (exports / "customers.csv").write_bytes(b"\x00\x01garbage")
    instance, result = _run_job(tmp_path, exports, "daily_refresh")
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure, _ = None, None
    with _slack(ScriptedServer()) as srv:
        failure, _ = _sensors(srv.url + HOOK, tmp_path / "outbox")
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=run,
            dagster_event=_event(instance, result.run_id, DagsterEventType.RUN_FAILURE),
        ).for_run_failure()
        failure(context)
        (text,) = _posted(srv)
    assert "daily_refresh" in text and "2026-11-23" in text
    assert "raw_csv_tables" in text                      # the failed step
    assert "customers.csv" in text                       # the error's first line names the file
    assert f"http://dagster.example:3000/runs/{result.run_id}" in text
    assert len(text.splitlines()) <= 6                    # a first line, not a traceback
    instance.dispose()


def test_a_successful_run_with_failed_warnings_posts_one_digest(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    stale = time.time() - 72 * 3600
    # the whole drop is three days old (the export job stopped): warnings, not a missing file
    for name in ("customers", "products", "orders", "order_lines", "subscriptions",
                 "subscription_events", "payments", "inquiries", "web_events"):
        (exports / f"{name}.csv").write_text("x\n", encoding="utf-8")
        os.utime(exports / f"{name}.csv", (stale, stale))
    instance, result = _run_job(tmp_path, exports, "freshness_checks")
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    with _slack(ScriptedServer()) as srv:
        _, digest = _sensors(srv.url + HOOK, tmp_path / "outbox")
        context = dg.build_run_status_sensor_context(
            sensor_name="warning_digest", dagster_instance=instance, dagster_run=run,
            dagster_event=_event(instance, result.run_id, DagsterEventType.RUN_SUCCESS),
        )
        digest(context)
        (text,) = _posted(srv)
    assert "raw_csv/orders: export_is_fresh" in text
    assert "bi/snapshot: snapshot_is_fresh" in text
    assert f"/runs/{result.run_id}" in text
    instance.dispose()


def test_without_a_webhook_the_alert_goes_to_the_outbox(tmp_path):
    deliver = alert_deliverer({}, tmp_path / "outbox")
    alert = failure_alert(SETTINGS, "daily_refresh", "run-1", "2026-11-23", [("dbt", "Error\ntrace")])
    assert deliver(alert) == "webhook:dry_run"
    (written,) = list((tmp_path / "outbox" / "webhook" / "teiki_alerts").glob("*.json"))
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert "dbt — Error" in json.loads(written.read_text(encoding="utf-8"))["payload"]["text"]


def test_a_refused_webhook_fails_the_tick_without_showing_its_secret_url(tmp_path):
    with ScriptedServer() as srv:
        srv.route(HOOK, lambda req: (404, "no_service"))
        deliver = alert_deliverer({"TEIKI_WEBHOOK_URL": srv.url + HOOK}, tmp_path)
        alert = failure_alert(SETTINGS, "daily_refresh", "run-2", "2026-11-23", [])
        with pytest.raises(AlertNotDelivered) as err:
            deliver(alert)
    assert "404" in str(err.value) and "no_service" in str(err.value)
    assert "s3cr3tW3bh00kT0k3n" not in str(err.value)


def test_alerts_are_mailed_to_the_data_team_once_each_over_smtp(tmp_path):
    settings = AlertSettings(dagster_url="http://dagster.example:3000",
                             mail_to=["data@shop.example.jp", "ops@shop.example.jp"])
    alert = failure_alert(settings, "daily_refresh", "run-3", "2026-11-23",
                          [("teiki_dbt_models", "Database Error in model orders\ndetails")])
    with SmtpServer() as smtp:
        creds = smtp.credentials()
        env = {"TEIKI_SMTP_HOST": creds.host, "TEIKI_SMTP_PORT": str(creds.port),
               "TEIKI_SMTP_USER": creds.user, "TEIKI_SMTP_PASSWORD": creds.password}
        deliver = alert_deliverer(env, tmp_path / "outbox", settings,
                                  mail_ssl_context=smtp.client_ssl_context())
        assert deliver(alert) == "webhook:dry_run mail:sent mail:sent"
        received = list(smtp.received)
    assert sorted(r.rcpt_tos for r in received) == [("data@shop.example.jp",), ("ops@shop.example.jp",)]
    for r in received:
        assert r.header("Subject") == alert.title
        assert "teiki_dbt_models — Database Error in model orders" in r.text()
        assert "http://dagster.example:3000/runs/run-3" in r.text()
        assert "details" not in r.text()  # the error's first line only


def test_a_refused_mail_fails_the_tick_and_names_the_channel(tmp_path):
    settings = AlertSettings(mail_to=["data@shop.example.jp"])
    with SmtpServer() as smtp:
        creds = smtp.credentials()
        env = {"TEIKI_SMTP_HOST": creds.host, "TEIKI_SMTP_PORT": str(creds.port),
               "TEIKI_SMTP_USER": creds.user, "TEIKI_SMTP_PASSWORD": "wrong-password"}
        deliver = alert_deliverer(env, tmp_path / "outbox", settings,
                                  mail_ssl_context=smtp.client_ssl_context())
        with pytest.raises(ChannelConfigError) as err:
            deliver(failure_alert(settings, "daily_refresh", "run-4", "2026-11-23", []))
    assert "SMTP authentication failed" in str(err.value) and "TEIKI_SMTP_PASSWORD" in str(err.value)
    assert "wrong-password" not in str(err.value)
