"""Postal DM: the 宛名 CSV a print-and-mail vendor (DM 印刷・発送代行) imports, one file per batch.

The vendor prints each row's address and message on a postcard or letter and mails it; Teiki's
part is the address file. Layout, one header row then one row per message::

    郵便番号,都道府県,住所1,住所2,氏名,敬称,顧客ID,<printed fields...>,本文,管理番号
    150-0001,東京都,渋谷区神宮前1-2-3,テイキビル 4F,山田 花子,様,C0001,10%OFF,WINBACK10,"山田様...",winback:-:20261202:c1

- ``郵便番号`` always ``123-4567`` (given as 1234567, ``〒１２３－４５６７``, ...; not 7 digits:
  the message is rejected). ``都道府県`` may be empty (the postal code and 住所1 still deliver).
- ``敬称`` ``様`` unless ``extra["honorific"]`` says otherwise (``御中`` for a company).
- printed fields: ``extra["fields"]`` ({header: value}, e.g. ``{"オファー": ..., "クーポンコード":
  ...}``), in the order first seen in the batch; a row without one has it empty.
- ``本文``: ``body_text``, the message printed on the DM, as a column rather than a companion file:
  the vendors' 差し込み印刷 (variable data printing) merges per-row columns into the design, and one
  file cannot lose its other half on the way. A multi-line text is one quoted cell.
- ``管理番号``: the message's idempotency key. Vendors report returned mail (宛所不明) by it, and it
  is what makes a re-run exactly-once (below).

The ``extra`` keys read: ``postal_code``, ``address1`` and ``full_name`` (required: a message
missing one is ``rejected`` naming it, the batch goes on), ``prefecture``, ``address2``,
``customer_id`` (default ``customer_key``), ``honorific``, ``fields``, ``send_date`` (a date or
``YYYY-MM-DD``; default the day in the ledger's idempotency key ``campaign:step:YYYYMMDD:customer``,
else today in the merchant's time zone).

Files and encodings. ``channels.postal_dm.encoding``: ``cp932`` (default; what the vendors'
import reads unless told otherwise) or ``utf-8-sig`` (UTF-8 with BOM: every character; most
vendors accept it). CRLF line ends. In cp932 the usual look-alikes that Shift_JIS spells
differently are mapped to the character cp932 has (〜 U+301C -> ～, − U+2212 -> －, ‖, ¢, £, ¬,
— U+2014 -> ―), as every Shift_JIS conversion does; any other character cp932 cannot hold (𠮷,
an emoji) rejects that message naming the column and the character, and the rest of the batch is
written. One file per batch and send day, mode 0600 in a folder made 0700, written atomically
(:mod:`connectors.channels.files`)::

    dry-run  <outbox>/postal_dm/<campaign>/<campaign>_<YYYYMMDD>_<batch>.csv
    live     <TEIKI_POSTAL_DM_DELIVERY_DIR>/<campaign>_<YYYYMMDD>_<batch>.csv

``<batch>`` is 12 hex digits of a hash of the batch's 管理番号 (the rows written), so two batches
with different messages never share a file name, and the same batch sent again rewrites its own
file whole with the same rows. Results: ``dry_run`` (no delivery folder) or ``sent`` (the file is
in the delivery folder), ``provider_message_id`` ``outbox:postal_dm/<campaign>/<file>#row=<n>``
or ``postal_dm:<file>#row=<n>`` (n counts data rows from 1).

Exactly once. A file is written whole before any result is yielded, so a crash can leave a file
whose messages are still ``planned`` in the ledger, or only partly recorded. Before writing, the
channel reads the 管理番号 of the day's earlier files of the campaign in the same folder: a message
already in one is not written again but answered ``already_sent`` (dry-run: ``dry_run``) naming
that file and row; the earlier file is never rewritten with fewer rows. Hence
``resends_in_doubt``: passing a message again is always safe while the earlier files stay in the
folder. A vendor that *moves* files away on collection takes that memory with it; ask it to copy
(or keep its collected files in the folder) if an interrupted run may be re-run after a pickup.

Going live: set ``TEIKI_POSTAL_DM_DELIVERY_DIR`` to the absolute path of the folder the vendor
collects from (an SFTP upload folder, a synced share), writable by the user running Teiki; the
folder is created 0700 if missing, and the vendor's collector must run as that user. Unset, the
channel runs dry and writes the same files to the outbox.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.channels.base import OutboundMessage, SendResult
from connectors.channels.files import encode_csv, make_private_dir, write_private_file
from connectors.channels.outbox import ChannelConfigError, MessageError, Outbox, OutboxChannel, safe_file_stem
from connectors.channels.settings import PostalDmSettings

__all__ = ["FIXED_COLUMNS", "PostalDmChannel", "normalize_postal_code", "postal_dm_channel_from_env"]

# (row key, header) of the columns every file has, in order; printed fields, 本文 and 管理番号 follow.
FIXED_COLUMNS = (("postal_code", "郵便番号"), ("prefecture", "都道府県"), ("address1", "住所1"),
                 ("address2", "住所2"), ("full_name", "氏名"), ("honorific", "敬称"),
                 ("customer_id", "顧客ID"))
BODY_COLUMN, KEY_COLUMN = "本文", "管理番号"
_RESERVED = {h for _, h in FIXED_COLUMNS} | {BODY_COLUMN, KEY_COLUMN}
_REQUIRED = (("postal_code", "郵便番号"), ("address1", "住所1"), ("full_name", "氏名"))
_DASHES = re.compile("[\u2010-\u2015\u2212\u30fc\uff70-]")
# Characters Unicode spells differently from what cp932 decodes its bytes to (the "wave dash
# problem"): the same glyph, so a Shift_JIS file gets the cp932 form.
_CP932_LOOKALIKES = str.maketrans({"\u301c": "\uff5e", "\u2212": "\uff0d", "\u2016": "\u2225",
                                   "\u00a2": "\uffe0", "\u00a3": "\uffe1", "\u00ac": "\uffe2",
                                   "\u2014": "\u2015"})


def normalize_postal_code(value: object) -> str | None:
    """``123-4567`` from 1234567, 123-4567, 〒１２３－４５６７, ...; None when not 7 digits."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lstrip("〒").strip()
    digits = _DASHES.sub("", text).replace(" ", "")
    if len(digits) != 7 or not digits.isascii() or not digits.isdigit():
        return None
    return f"{digits[:3]}-{digits[3:]}"


def postal_dm_channel_from_env(env: Mapping[str, str], settings: PostalDmSettings | None, outbox: Outbox | Path,
                               *, timezone: str = "Asia/Tokyo", **options) -> "PostalDmChannel":
    """The channel with ``TEIKI_POSTAL_DM_DELIVERY_DIR`` as its delivery folder (unset: dry-run)."""
    raw = (env.get("TEIKI_POSTAL_DM_DELIVERY_DIR") or "").strip()
    delivery_dir = None
    if raw:
        delivery_dir = Path(raw).expanduser()
        if not delivery_dir.is_absolute():
            raise ChannelConfigError(f"TEIKI_POSTAL_DM_DELIVERY_DIR must be an absolute path, not {raw!r}")
        if delivery_dir.exists() and not delivery_dir.is_dir():
            raise ChannelConfigError(f"TEIKI_POSTAL_DM_DELIVERY_DIR {raw!r} is not a folder")
    return PostalDmChannel(settings, delivery_dir, outbox=outbox, timezone=timezone, **options)


class PostalDmChannel(OutboxChannel):
    name = "postal_dm"
    outbox_suffix = "csv"
    # A message passed again is found in the earlier file by its 管理番号 and not written twice.
    resends_in_doubt = True

    def __init__(
        self,
        settings: PostalDmSettings | None = None,
        delivery_dir: Path | str | None = None,
        *,
        outbox: Outbox | Path | None = None,
        timezone: str = "Asia/Tokyo",
    ) -> None:
        super().__init__(dry_run=delivery_dir is None, outbox=outbox)
        self.settings = settings or PostalDmSettings()
        self.delivery_dir = Path(delivery_dir) if delivery_dir is not None else None
        self.tz = ZoneInfo(timezone)

    # -- rendering ----------------------------------------------------------------------------
    def row(self, message: OutboundMessage) -> dict[str, str]:
        """The message's CSV row as {header: text} (raises :class:`MessageError`)."""
        key, extra = message.idempotency_key, message.extra
        missing = [f"{h} ({k})" for k, h in _REQUIRED if not _text(extra.get(k))]
        if missing:
            raise MessageError(f"{key}: no {', '.join(missing)}: a DM cannot be addressed without it")
        postal = normalize_postal_code(extra["postal_code"])
        if postal is None:
            raise MessageError(f"{key}: the 郵便番号 is not 7 digits (123-4567)")
        row = {"郵便番号": postal, "都道府県": _text(extra.get("prefecture")),
               "住所1": _text(extra["address1"]), "住所2": _text(extra.get("address2")),
               "氏名": _text(extra["full_name"]), "敬称": _text(extra.get("honorific")) or "様",
               "顧客ID": _text(extra.get("customer_id")) or message.customer_key}
        fields = extra.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise MessageError(f"{key}: extra['fields'] must be a mapping of column header to value")
        for header, value in fields.items():
            if not isinstance(header, str) or not header.strip():
                raise MessageError(f"{key}: a printed field has no column header")
            if header in _RESERVED:
                raise MessageError(f"{key}: the printed field {header!r} would replace the column of that name")
            row[header] = _text(value)
        row[BODY_COLUMN] = message.body_text.replace("\r\n", "\n")
        row[KEY_COLUMN] = key
        if self.settings.encoding == "cp932":
            row = {h: v.translate(_CP932_LOOKALIKES) for h, v in row.items()}
        for header, value in row.items():
            try:
                value.encode(self.settings.encoding)
            except UnicodeEncodeError as exc:
                raise MessageError(
                    f"{key}: the {header} has {value[exc.start:exc.end]!r}, which {self.settings.encoding} "
                    "cannot represent (use channels.postal_dm.encoding utf-8-sig, or change the text)") from None
        return row

    def render(self, message: OutboundMessage) -> bytes:
        """One message as a file of its own (the batch file has the same row)."""
        row = self.row(message)
        return encode_csv([row], [(h, h) for h in row], self.settings.encoding, name=message.idempotency_key)

    def send_day(self, message: OutboundMessage) -> date:
        value = message.extra.get("send_date")
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if value:
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                raise MessageError(f"{message.idempotency_key}: send_date must be YYYY-MM-DD") from None
        prefix = message.campaign + ":"
        if message.idempotency_key.startswith(prefix):  # the ledger's campaign:step:YYYYMMDD:customer
            parts = message.idempotency_key[len(prefix):].split(":", 2)
            if len(parts) == 3 and re.fullmatch(r"\d{8}", parts[1]):
                try:
                    return datetime.strptime(parts[1], "%Y%m%d").date()
                except ValueError:
                    pass
        return datetime.now(self.tz).date()

    # -- sending: dry-run and live write the same file, in different folders ------------------
    def dry_run_batch(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        return self._write_batches(messages)

    def deliver(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        return self._write_batches(messages)

    def folder(self, campaign: str) -> Path:
        if self.delivery_dir is not None:
            return self.delivery_dir
        assert self.outbox is not None
        return self.outbox.root / safe_file_stem(self.name) / safe_file_stem(campaign)

    def _reference(self, path: Path, row: int) -> str:
        if self.delivery_dir is None:
            assert self.outbox is not None
            return f"{self.outbox.reference(path)}#row={row}"
        return f"postal_dm:{path.name}#row={row}"

    def _write_batches(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        results: dict[str, SendResult] = {}
        groups: dict[tuple[str, date], list[tuple[OutboundMessage, dict[str, str]]]] = {}
        for m in messages:
            try:
                row = self.row(m)
                day = self.send_day(m)
            except MessageError as exc:
                results[m.idempotency_key] = SendResult(m.idempotency_key, "rejected", error=str(exc))
                continue
            groups.setdefault((m.campaign, day), []).append((m, row))
        for (campaign, day), rows in groups.items():
            results.update(self._write_batch(campaign, day, rows))
        for m in messages:
            yield results[m.idempotency_key]

    def _write_batch(self, campaign: str, day: date,
                     rows: list[tuple[OutboundMessage, dict[str, str]]]) -> dict[str, SendResult]:
        folder = self.folder(campaign)
        prefix = f"{safe_file_stem(campaign)}_{day:%Y%m%d}_"
        status = "dry_run" if self.dry_run else "sent"
        out: dict[str, SendResult] = {}
        try:
            target = folder / f"{prefix}{_batch_id(m.idempotency_key for m, _ in rows)}.csv"
            if not target.exists():  # not this very batch again: leave out what an earlier file holds
                earlier = _earlier_rows(folder, prefix)
                fresh = []
                for m, row in rows:
                    if m.idempotency_key in earlier:
                        path, n = earlier[m.idempotency_key]
                        out[m.idempotency_key] = SendResult(
                            m.idempotency_key, "dry_run" if self.dry_run else "already_sent",
                            provider_message_id=self._reference(path, n))
                    else:
                        fresh.append((m, row))
                rows = fresh
                if not rows:
                    return out
                target = folder / f"{prefix}{_batch_id(m.idempotency_key for m, _ in rows)}.csv"
            headers = [h for _, h in FIXED_COLUMNS]
            for _, row in rows:
                headers += [h for h in row if h not in headers and h not in (BODY_COLUMN, KEY_COLUMN)]
            headers += [BODY_COLUMN, KEY_COLUMN]
            data = encode_csv([row for _, row in rows], [(h, h) for h in headers], self.settings.encoding,
                              name=target.name)
            if self.delivery_dir is None:  # every level 0700 (mkdir's parents= ignores the mode)
                assert self.outbox is not None
                for level in (self.outbox.root, folder.parent, folder):
                    make_private_dir(level)
            write_private_file(target, data)
        except OSError as exc:
            error = f"postal_dm: could not write {prefix}….csv ({type(exc).__name__}: {exc.strerror or exc})"
            for m, _ in rows:
                out[m.idempotency_key] = SendResult(m.idempotency_key, "failed", error=f"{m.idempotency_key}: {error}")
            return out
        for n, (m, _) in enumerate(rows, start=1):
            out[m.idempotency_key] = SendResult(m.idempotency_key, status, provider_message_id=self._reference(target, n))
        return out


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _batch_id(keys) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()[:12]


def _earlier_rows(folder: Path, prefix: str) -> dict[str, tuple[Path, int]]:
    """管理番号 -> (file, data row) of the day's earlier files of a campaign in ``folder``."""
    pattern = re.compile(re.escape(prefix) + r"[0-9a-f]{12}\.csv")
    found: dict[str, tuple[Path, int]] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if not pattern.fullmatch(path.name):
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("cp932")
            reader = csv.reader(io.StringIO(text, newline=""))
            header = next(reader)
            column = header.index(KEY_COLUMN)
        except (UnicodeDecodeError, StopIteration, ValueError):
            raise ChannelConfigError(
                f"postal_dm: {path.name} in the delivery folder is not a DM file this channel wrote "
                f"(no readable {KEY_COLUMN} column); move it away so a re-run can tell what was sent") from None
        for n, record in enumerate(reader, start=1):
            if len(record) > column and record[column]:
                found.setdefault(record[column], (path, n))
    return found
