"""The ``channels`` section of the merchant's settings file, and the credentials each channel reads.

Non-secret settings (encoding, sender, rates) live in the settings file
(``orchestration/merchant_settings.py`` registers :class:`ChannelsSettings` as ``channels``)::

    channels:
      mail:
        from_address: info@shop.example.jp
        from_name: 定期便ショップ
        encoding: iso-2022-jp        # or utf-8
        rate_per_second: 10
      line:
        rate_per_second: 2000
      webhook:
        format: slack                # or chatwork, teams
      postal_dm:
        encoding: cp932              # or utf-8-sig

Secrets come from environment variables only, and a channel with none of its variables set runs
dry (renders to the outbox, contacts nobody):

    mail       TEIKI_SMTP_HOST, TEIKI_SMTP_PORT (587), TEIKI_SMTP_USER, TEIKI_SMTP_PASSWORD,
               TEIKI_SMTP_SECURITY (starttls | ssl | none; default starttls)
    line       TEIKI_LINE_CHANNEL_TOKEN, TEIKI_LINE_API_BASE (tests: the local server)
    webhook    TEIKI_WEBHOOK_URL (Slack / Teams), or TEIKI_CHATWORK_TOKEN + TEIKI_CHATWORK_ROOM_ID
               (+ TEIKI_CHATWORK_API_BASE for tests)
    postal_dm  TEIKI_POSTAL_DM_DELIVERY_DIR: the folder the print vendor collects from

This module reads no file and imports no dagster; ``connectors`` stays plain Python.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    # Same rules as every merchant-settings section: unknown keys are errors, no coercion.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class MailSettings(_Strict):
    from_address: str = "info@example.jp"
    from_name: str = "定期便ショップ"
    reply_to: str | None = None
    # ISO-2022-JP is what older Japanese mail clients and キャリアメール read best; it cannot hold
    # every character (①, 髙, emoji): such a message is rejected with the character named.
    # UTF-8 holds everything and every current client reads it.
    encoding: Literal["iso-2022-jp", "utf-8"] = "utf-8"
    # Used when a message carries no one-click unsubscribe URL (extra["unsubscribe_url"]);
    # default: the sender address.
    unsubscribe_mailto: str | None = None
    # The domain of the Message-ID (default: the sender's domain).
    message_id_domain: str | None = None
    # Messages per second handed to the SMTP server (the relay's or provider's sending limit).
    rate_per_second: float = Field(default=10.0, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("from_address", "reply_to", "unsubscribe_mailto")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or any(c in value for c in " <>\r\n")):
            raise ValueError(f"not a plain e-mail address: {value!r}")
        return value


class LineSettings(_Strict):
    # Push: 2,000 requests per second per channel; multicast: 200 per second
    # (https://developers.line.biz/en/reference/messaging-api/#rate-limits).
    rate_per_second: float = Field(default=2000.0, gt=0)
    multicast_rate_per_second: float = Field(default=200.0, gt=0)
    # Identical messages (same text, no per-customer variable) go out by multicast, up to 500
    # user ids a request, exactly once through the batch recorded before sending
    # (connectors/channels/line.py). Off: every message is a push.
    multicast: bool = True
    notification_disabled: bool = False
    # Requests in flight at once (each waits for the shared throttle first).
    concurrency: int = Field(default=4, ge=1, le=32)


class WebhookSettings(_Strict):
    format: Literal["slack", "chatwork", "teams"] = "slack"
    # Slack: one message per second per incoming webhook. Chatwork: 10 messages per 10 s per
    # room, and 300 requests per 5 minutes per token.
    rate_per_second: float = Field(default=1.0, gt=0)


class PostalDmSettings(_Strict):
    # The print vendors' 宛名 import reads Shift_JIS (cp932) by default; UTF-8 with BOM also works
    # with most and holds every name character.
    encoding: Literal["cp932", "utf-8-sig"] = "cp932"


class ChannelsSettings(_Strict):
    mail: MailSettings = MailSettings()
    line: LineSettings = LineSettings()
    webhook: WebhookSettings = WebhookSettings()
    postal_dm: PostalDmSettings = PostalDmSettings()
