"""The one interface every outbound channel implements: mail, LINE, webhook, postal DM, call list.

The action layer (orchestration/actions/) decides who gets what and records it in the ledger; a
channel only delivers rendered messages. The contract that makes a send exactly-once:

1. the action layer records each message as ``planned`` in the ledger, with its
   ``idempotency_key`` (campaign, customer, day, step), *before* calling the channel;
2. ``Channel.send`` delivers a batch and yields one :class:`SendResult` per message as soon as
   the provider has answered for it, so the outcome is recorded message by message;
3. on a re-run, messages whose outcome is already recorded are never passed again; a message
   still ``planned`` (the process died between plan and outcome) is passed again with the *same*
   key, and the channel uses it where the provider supports one (LINE ``X-Line-Retry-Key``: a
   409 means the first attempt was accepted; mail: the Message-ID) so the customer receives it
   once.

A channel that sends several messages in one request (LINE multicast) proposes the groups with
``assign_batches`` before anything is sent; the action layer records each message's
``send_batch`` in the ledger and passes it back in ``OutboundMessage.send_batch``. The request's
own idempotency key is the batch's, so a re-run after a crash (even one that recorded only part
of the batch's outcomes) repeats the same request and the provider answers "already accepted".

With no credentials a channel is in dry-run: it renders and writes the message to the outbox
and answers ``dry_run`` without contacting anybody. Channels never import dagster and never log
a recipient's address or a credential; a failure names the idempotency key and the provider's
own error text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

SendStatus = Literal["sent", "already_sent", "dry_run", "failed", "rejected"]


@dataclass(frozen=True)
class OutboundMessage:
    idempotency_key: str          # stable per (campaign, customer, day, step); safe to show in logs
    campaign: str
    customer_key: str
    recipient: str                # e-mail address, LINE user id, webhook name, postal address id
    body_text: str
    subject: str | None = None    # mail subject, LINE alt text
    body_html: str | None = None
    # Channel-specific parts (postal address fields, LINE message objects, unsubscribe URL, ...).
    extra: Mapping[str, object] = field(default_factory=dict)
    send_batch: str | None = None  # the recorded batch this message goes out in (LINE multicast)


@dataclass(frozen=True)
class SendResult:
    idempotency_key: str
    status: SendStatus
    provider_message_id: str | None = None  # e.g. LINE's sentMessages id, the SMTP Message-ID
    error: str | None = None                # provider's own error text; never the recipient


@runtime_checkable
class Channel(Protocol):
    name: str       # 'mail', 'line', 'webhook', 'postal_dm', 'call_center'
    dry_run: bool   # True when no credentials are configured: render + outbox only

    def send(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        """Deliver in order, yielding each message's result as soon as it is known."""
        ...
