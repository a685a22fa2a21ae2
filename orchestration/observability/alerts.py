"""Alerts to the data team through the project's own channels: a failed run, and a digest of warnings.

- ``alert_on_run_failure`` (run-failure sensor, on by default): any failed run of the code
  location posts the job, the business date, each failed step with the first line of its error,
  and a link to the run in the Dagster UI. The call center otherwise simply gets no file.
- ``warning_digest`` (run-success sensor, on by default, ``alerts.warning_digest`` in the
  settings): a successful run whose warning checks failed (dbt warn tests, freshness, an action
  whose audience was cut by consent) posts one message listing them, instead of leaving them in
  the run's log.

Where they go: the channels the actions use (connectors/channels/), chosen by environment
variables: the webhook channel's ``TEIKI_WEBHOOK_URL_ALERTS`` (else ``TEIKI_WEBHOOK_URL``; Slack,
Teams or Chatwork by ``channels.webhook.format``), and mail to ``alerts.mail_to`` through the SMTP
relay of ``TEIKI_SMTP_*``. A channel without credentials writes the alert to the outbox (dry run),
so nothing is lost and nothing is sent by surprise. Every channel is tried; if one failed, the
sensor tick fails, naming it.
An alert never carries customer data: step names, check names, counts and the error's first line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster import DagsterEventType

from connectors.channels.base import OutboundMessage
from orchestration.merchant_settings import AlertSettings

MAX_ERROR_CHARS = 300
# The webhook channel's recipient name: TEIKI_WEBHOOK_URL_ALERTS routes alerts apart from others.
ALERT_RECIPIENT = "alerts"


@dataclass(frozen=True)
class Alert:
    key: str       # idempotency key: one alert per run and kind
    title: str
    lines: tuple[str, ...]
    link: str

    def as_message(self, recipient: str, key_suffix: str = "") -> OutboundMessage:
        body = "\n".join((self.title, *self.lines, self.link))
        return OutboundMessage(
            idempotency_key=f"{self.key}:{key_suffix}" if key_suffix else self.key, campaign="teiki_alerts", customer_key="data_team",
            recipient=recipient, subject=self.title, body_text=body,
            extra={"link": self.link, "lines": list(self.lines)},
        )


def first_line(text: str | None) -> str:
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def run_link(settings: AlertSettings, run_id: str) -> str:
    return f"{settings.dagster_url.rstrip('/')}/runs/{run_id}"


def failure_alert(settings: AlertSettings, job_name: str, run_id: str, business_date: str,
                  failed_steps: Sequence[tuple[str, str]]) -> Alert:
    """failed_steps: (step key, error message) of each failed step."""
    lines = [f"業務日 business date: {business_date}"]
    if failed_steps:
        lines += [f"失敗したステップ failed step: {step} — {first_line(error)}" for step, error in failed_steps]
    else:
        lines.append("失敗したステップなし (the run failed before any step ran)")
    return Alert(key=_key("run_failure", run_id), title=f"[Teiki] {job_name} が失敗しました (run failed)",
                 lines=tuple(lines), link=run_link(settings, run_id))


def warning_digest_alert(settings: AlertSettings, job_name: str, run_id: str, business_date: str,
                         warnings: Sequence[tuple[str, str]]) -> Alert | None:
    """warnings: (asset, check name) of each failed warning check; None when there are none."""
    if not warnings:
        return None
    lines = [f"業務日 business date: {business_date}",
             f"警告 {len(warnings)} 件 (failed warning checks):"]
    lines += [f"- {asset}: {check}" for asset, check in sorted(set(warnings))]
    return Alert(key=_key("warning_digest", run_id), title=f"[Teiki] {job_name}: 警告 {len(warnings)} 件",
                 lines=tuple(lines), link=run_link(settings, run_id))


def _key(kind: str, run_id: str) -> str:
    return f"alert-{kind}-{hashlib.sha256(run_id.encode()).hexdigest()[:16]}"


def failed_steps_of(context: dg.RunFailureSensorContext) -> list[tuple[str, str]]:
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        # Dagster wraps the asset's own exception ("Error occurred while executing op ..."):
        # the innermost cause is what went wrong (a file, a line, a failed dbt test).
        while error is not None and getattr(error, "cause", None) is not None:
            error = error.cause
        steps.append((event.step_key or "?", getattr(error, "message", "") or ""))
    return steps


def failed_warning_checks(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    out = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN:
            out.append((evaluation.asset_key.to_user_string(), evaluation.check_name))
    return out


def business_date_of(run: dg.DagsterRun, default: str) -> str:
    return (run.tags or {}).get("teiki/business_date", default)


def build_alert_sensors(settings: AlertSettings, deliver, default_business_date) -> list:
    """`deliver(alert)` sends through the configured channel; `default_business_date()` is the
    business date of a run that carries no tag of its own."""

    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        description="Posts a failed run (job, failed step, first line of the error, link) to the data team.",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        alert = failure_alert(settings, run.job_name, run.run_id,
                              business_date_of(run, default_business_date()), failed_steps_of(context))
        deliver(alert)
        context.log.info(f"alert sent for failed run {run.run_id}")

    @dg.run_status_sensor(
        name="warning_digest",
        run_status=dg.DagsterRunStatus.SUCCESS,
        description="After a successful run, posts the failed warning checks (dbt warn tests, freshness, empty actions).",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def warning_digest(context: dg.RunStatusSensorContext):
        if not settings.warning_digest:
            return dg.SkipReason("alerts.warning_digest is off")
        run = context.dagster_run
        alert = warning_digest_alert(settings, run.job_name, run.run_id,
                                     business_date_of(run, default_business_date()),
                                     failed_warning_checks(context.instance, run.run_id))
        if alert is None:
            return dg.SkipReason("no failed warning checks")
        deliver(alert)
        return None

    return [alert_on_run_failure, warning_digest]


class AlertNotDelivered(RuntimeError):
    """The alert channel refused or failed: the sensor tick fails, visibly, in the UI."""


def alert_deliverer(env: Mapping[str, str], outbox_dir, alert_settings: AlertSettings | None = None,
                    channels=None, *, mail_ssl_context=None):
    """deliver(alert) to the data team's chat (webhook recipient ``alerts``:
    TEIKI_WEBHOOK_URL_ALERTS, else TEIKI_WEBHOOK_URL) and, when ``alerts.mail_to`` lists
    addresses, by mail (TEIKI_SMTP_*). Unconfigured channels dry-run into the outbox
    (outbox/<channel>/teiki_alerts/<key>). Returns the statuses, e.g. "webhook:sent mail:sent"."""
    from connectors.channels.mail import MailChannel, smtp_credentials_from_env
    from connectors.channels.outbox import Outbox
    from connectors.channels.settings import ChannelsSettings
    from connectors.channels.webhook import WebhookChannel, webhook_targets_from_env

    channels = channels or ChannelsSettings()
    mail_to = list((alert_settings or AlertSettings()).mail_to)
    outbox = Outbox(outbox_dir)
    webhook = WebhookChannel(channels.webhook, webhook_targets_from_env(env), outbox=outbox)
    mail = MailChannel(channels.mail, smtp_credentials_from_env(env), outbox=outbox,
                       ssl_context=mail_ssl_context) if mail_to else None

    def deliver(alert: Alert) -> str:
        results = [("webhook", r) for r in webhook.send([alert.as_message(ALERT_RECIPIENT)])]
        if mail is not None:
            messages = [alert.as_message(address, key_suffix=f"mail:{address}") for address in mail_to]
            results += [("mail", r) for r in mail.send(messages)]
        failed = [f"{channel}: {r.error}" for channel, r in results if r.status in ("failed", "rejected")]
        if failed:
            raise AlertNotDelivered(f"alert {alert.key} not delivered: " + "; ".join(failed))
        return " ".join(f"{channel}:{r.status}" for channel, r in results)

    return deliver
