"""Build a channel by name from the environment: the one place credentials meet settings.

``live=False`` builds the channel without credentials, so it runs dry (renders into the outbox)
whatever the environment holds: a campaign that is not live, or a merchant who has not switched
campaigns live, never reaches a customer even on a machine where the SMTP relay is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from connectors.channels.outbox import ChannelConfigError, Outbox, OutboxChannel
from connectors.channels.settings import ChannelsSettings

CHANNEL_NAMES = ("mail", "line", "webhook", "postal_dm")


def channel_from_env(name: str, env: Mapping[str, str], settings: ChannelsSettings, outbox: Outbox | Path,
                     *, live: bool = True, timezone: str = "Asia/Tokyo", **options) -> OutboxChannel:
    """The channel `name` with its credentials from `env` (none, or not `live`: dry-run).
    `options` go to the channel's constructor (e.g. an ssl_context for a test relay)."""
    outbox = outbox if isinstance(outbox, Outbox) else Outbox(outbox)
    if name == "mail":
        from connectors.channels.mail import MailChannel, smtp_credentials_from_env

        credentials = smtp_credentials_from_env(env) if live else None
        return MailChannel(settings.mail, credentials, outbox=outbox, timezone=timezone, **options)
    if name == "line":
        from connectors.channels.line import LineChannel, line_credentials_from_env

        token, base = line_credentials_from_env(env)
        return LineChannel(settings.line, token if live else None, outbox=outbox, api_base=base, **options)
    if name == "webhook":
        from connectors.channels.webhook import WebhookChannel, webhook_targets_from_env

        return WebhookChannel(settings.webhook, webhook_targets_from_env(env) if live else None,
                              outbox=outbox, **options)
    if name == "postal_dm":
        from connectors.channels.postal_dm import postal_dm_channel_from_env

        return postal_dm_channel_from_env(env if live else {}, settings.postal_dm, outbox, **options)
    raise ChannelConfigError(f"unknown channel {name!r} (one of {', '.join(CHANNEL_NAMES)})")
