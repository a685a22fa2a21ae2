"""The eligibility file: what the decision service knows, published from the warehouse.

The service never opens the warehouse (DuckDB admits one writer, and a writer blocks readers:
ARCHITECTURE.md, known traps). ``orchestration/actions/onsite_offers.py`` reads
``marts.onsite_offer_eligibility`` and writes this standalone JSON file whole (temporary file,
fsync, rename; mode 0600: connectors/channels/files.py), and the service reloads it when its
modification time changes.

Format: JSON Lines, UTF-8. The first line is the header, then one line per customer::

    {"format": "teiki.onsite_eligibility.v1", "as_of_date": "YYYY-MM-DD", "published_at": "<UTC ISO>", "rows": N}
    {"customer_id", "source", "window_id", "window_start", "window_end", "offer_id", "offer_text",
     "offer_image_url", "offer_expires_on", "holdout"}
    ...

One line per row rather than one document: the service parses a new file in a background thread
while it answers requests, and a single ``json.loads`` of 100,000 rows would hold the interpreter
lock for about a second (every request would wait); line by line, requests interleave. A file whose
line count differs from the header's ``rows`` is truncated and rejected.

Only customers the service needs are published: the eligible ones, and the random holdout
(``holdout: true``: never shown, but their visits are logged as ``not_shown/holdout`` so the held-out
arm can be compared). One row per customer_id: the earliest window (the mart already offers one
window per person; two sources sharing an id keep the first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from connectors.channels.files import write_private_file

FORMAT = "teiki.onsite_eligibility.v1"
ROW_FIELDS = ("customer_id", "source", "window_id", "window_start", "window_end", "offer_id",
              "offer_text", "offer_image_url", "offer_expires_on", "holdout")


class EligibilityFileError(ValueError):
    """The eligibility file is unreadable or not in the expected format (names the file)."""


@dataclass(frozen=True)
class Offer:
    customer_id: str
    source: str
    window_id: str
    window_start: date
    window_end: date
    offer_id: str
    offer_text: str
    offer_image_url: str | None
    offer_expires_on: date
    holdout: bool

    def in_window(self, today: date) -> bool:
        return self.window_start <= today <= self.window_end


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def encode_rows(rows: Iterable[Mapping[str, Any]], as_of_date: date | None) -> tuple[bytes, int]:
    """The file's bytes for mart rows (dicts with ROW_FIELDS), and the number of rows kept."""
    kept: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: (str(r["window_start"]), str(r["source"]), str(r["window_id"]))):
        cid = r.get("customer_id")
        if cid is None or str(cid) in kept:
            continue
        kept[str(cid)] = {f: _iso(r.get(f)) for f in ROW_FIELDS} | {
            "customer_id": str(cid), "holdout": bool(r.get("holdout"))}
    header = {
        "format": FORMAT,
        "as_of_date": _iso(as_of_date),
        "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": len(kept),
    }
    lines = [json.dumps(header, ensure_ascii=False, separators=(",", ":"))]
    lines += [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in kept.values()]
    return ("\n".join(lines) + "\n").encode("utf-8"), len(kept)


def write_eligibility(path: Path, rows: Iterable[Mapping[str, Any]], as_of_date: date | None) -> int:
    """Write the file atomically, mode 0600; returns the number of customers published."""
    data, n = encode_rows(rows, as_of_date)
    write_private_file(Path(path), data)
    return n


def load_eligibility(path: Path, pause: Callable[[], None] | None = None,
                     pause_every: int = 200) -> dict[str, Offer]:
    """customer_id -> Offer. Raises EligibilityFileError naming the file (and the line).

    ``pause`` is called every ``pause_every`` lines: the service's reload thread sleeps there so
    that request threads get the interpreter lock while a large file is parsed."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise EligibilityFileError(f"{path}: cannot read the eligibility file: {exc}") from None
    offers: dict[str, Offer] = {}
    texts: dict[str, str] = {}  # one string per distinct text, not one per customer
    with fh:
        try:
            header = json.loads(fh.readline())
        except ValueError:  # UnicodeDecodeError included
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT or not isinstance(header.get("rows"), int):
            raise EligibilityFileError(f"{path}: not a {FORMAT} file")
        n = 0
        lines = iter(fh)
        while True:
            try:
                line = next(lines, None)
            except UnicodeDecodeError:
                raise EligibilityFileError(f"{path}: line {n + 2}: not UTF-8") from None
            if line is None:
                break
            n += 1
            if pause is not None and n % pause_every == 0:
                pause()
            try:
                r = json.loads(line)
                text = str(r["offer_text"])
                offer = Offer(
                    customer_id=str(r["customer_id"]), source=str(r["source"]), window_id=str(r["window_id"]),
                    window_start=date.fromisoformat(r["window_start"]),
                    window_end=date.fromisoformat(r["window_end"]),
                    offer_id=str(r["offer_id"]), offer_text=texts.setdefault(text, text),
                    offer_image_url=r.get("offer_image_url") or None,
                    offer_expires_on=date.fromisoformat(r["offer_expires_on"]),
                    holdout=bool(r.get("holdout")),
                )
            except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
                raise EligibilityFileError(f"{path}: line {n + 1}: {type(exc).__name__}: {exc}") from None
            offers.setdefault(offer.customer_id, offer)
        if n != header["rows"]:
            raise EligibilityFileError(f"{path}: {n} rows, the header says {header['rows']} (truncated?)")
    return offers
