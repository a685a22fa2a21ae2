"""The dry-run outbox, and the one send loop every channel shares.

With no credentials configured a channel does not contact anybody: it renders each message
exactly as it would send it (the mail's RFC 5322 bytes, the LINE request body, the webhook JSON,
the postal DM address file) and writes it to the outbox, then answers ``dry_run``. So the demo
shows every message, and a merchant can read what would go out before going live.

Layout, one file per message (a batch channel such as the postal DM writes one file per batch)::

    <outbox>/<channel>/<campaign>/<idempotency key>.<eml|json|csv>

Files are 0600 in 0700 folders, written atomically (:mod:`connectors.channels.files`): they hold
names and addresses. The file name is the idempotency key, so a re-run of a message that is
still ``planned`` in the ledger rewrites the same file: the outbox, too, holds each message once.
The dry-run result's ``provider_message_id`` is ``outbox:<path relative to the outbox>`` (the
mail channel adds nothing else: its Message-ID is inside the file).

A channel subclasses :class:`OutboxChannel` and implements ``render`` (the bytes written to the
outbox, and for most channels also what is sent) and ``deliver`` (the live send). ``send``
chooses between them, so no channel has its own dry-run path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from connectors.channels.base import OutboundMessage, SendResult
from connectors.channels.files import make_private_dir, write_private_file

__all__ = ["ChannelConfigError", "MessageError", "Outbox", "OutboxChannel", "safe_file_stem"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ChannelConfigError(ValueError):
    """A channel cannot be built or used as configured (names the setting, never a secret)."""


class MessageError(ValueError):
    """One message cannot be rendered or sent as given (answered ``rejected``, batch goes on)."""


def safe_file_stem(text: str, limit: int = 120) -> str:
    """A file name for an idempotency key or campaign: the key itself when it is already safe,
    else a readable cleaned form plus a hash of the original (two keys never share a file)."""
    cleaned = _UNSAFE.sub("_", text).strip("._") or "_"
    if cleaned == text and len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{cleaned[: limit - 13]}-{digest}"


class Outbox:
    """Where dry-run messages go. ``root`` is created 0700 on first write."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, channel: str, campaign: str, key: str, suffix: str) -> Path:
        return self.root / safe_file_stem(channel) / safe_file_stem(campaign) / f"{safe_file_stem(key)}.{suffix}"

    def write(self, channel: str, campaign: str, key: str, suffix: str, data: bytes) -> Path:
        make_private_dir(self.root)
        return write_private_file(self.path_for(channel, campaign, key, suffix), data)

    def reference(self, path: Path) -> str:
        """The ``provider_message_id`` of a dry-run result: the file, relative to the outbox."""
        return "outbox:" + path.relative_to(self.root).as_posix()

    def files(self, channel: str | None = None) -> list[Path]:
        """Every message file (of one channel), sorted: for the demo, tests and asset metadata."""
        base = self.root / safe_file_stem(channel) if channel else self.root
        if not base.is_dir():
            return []
        return sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith("."))


class OutboxChannel:
    """Base of every channel: dry-run through the outbox, live through ``deliver``.

    Subclasses set ``name`` and ``outbox_suffix`` and implement :meth:`render` and
    :meth:`deliver`; a channel that writes one file per batch overrides :meth:`dry_run_batch`.
    """

    name: ClassVar[str] = "channel"
    outbox_suffix: ClassVar[str] = "txt"
    # True when the provider deduplicates a re-sent message by its idempotency key (LINE's
    # X-Line-Retry-Key): a message left in doubt by a crash may then be sent again safely.
    resends_in_doubt: ClassVar[bool] = False

    def __init__(self, *, dry_run: bool, outbox: Outbox | Path | None = None) -> None:
        if isinstance(outbox, Path):
            outbox = Outbox(outbox)
        if dry_run and outbox is None:
            raise ChannelConfigError(f"{self.name}: dry-run needs an outbox folder")
        self.dry_run = dry_run
        self.outbox = outbox

    # -- the Channel protocol -----------------------------------------------------------------
    def send(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        messages = list(messages)
        _check_unique_keys(self.name, messages)
        if self.dry_run:
            yield from self.dry_run_batch(messages)
        else:
            yield from self.deliver(messages)

    def assign_batches(self, messages: Sequence[OutboundMessage]) -> dict[str, str]:
        """Idempotency key -> batch id of the messages this channel would send together in one
        request (none by default: every message alone). Called before sending, so the batches
        can be recorded first (base.py)."""
        return {}

    # -- for subclasses -----------------------------------------------------------------------
    def render(self, message: OutboundMessage) -> bytes:
        """The message as it would be sent (raises :class:`MessageError` if it cannot be)."""
        raise NotImplementedError

    def deliver(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        """The live send: one result per message, in order, as soon as each is known."""
        raise NotImplementedError

    def dry_run_batch(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        assert self.outbox is not None
        for message in messages:
            try:
                data = self.render(message)
            except MessageError as exc:
                yield SendResult(message.idempotency_key, "rejected", error=str(exc))
                continue
            path = self.outbox.write(self.name, message.campaign, message.idempotency_key,
                                     self.outbox_suffix, data)
            yield SendResult(message.idempotency_key, "dry_run",
                             provider_message_id=self.outbox.reference(path))


def _check_unique_keys(channel: str, messages: Sequence[OutboundMessage]) -> None:
    seen: set[str] = set()
    for message in messages:
        if not message.idempotency_key:
            raise ValueError(f"{channel}: a message of campaign {message.campaign!r} has no idempotency key")
        if message.idempotency_key in seen:
            raise ValueError(f"{channel}: idempotency key {message.idempotency_key!r} appears twice in one batch")
        seen.add(message.idempotency_key)
