"""The eligibility file: what the decision service knows, published from the warehouse.

The service never opens the warehouse (DuckDB admits one writer, and a writer blocks readers:
ARCHITECTURE.md, known traps). ``orchestration/actions/onsite_offers.py`` reads
``marts.onsite_offer_eligibility`` and writes this standalone JSON file whole (temporary file,
fsync, rename; mode 0600: connectors/channels/files.py), and the service reloads it when its
modification time changes.

Format (``format`` = ``teiki.onsite_eligibility.v1``)::

    {"format": ..., "as_of_date": "YYYY-MM-DD", "published_at": "<UTC ISO>",
     "rows": [{"customer_id", "source", "window_id", "window_start", "window_end",
               "offer_id", "offer_text", "offer_image_url", "offer_expires_on", "holdout"}]}

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
from typing import Any, Iterable, Mapping

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
    doc = {
        "format": FORMAT,
        "as_of_date": _iso(as_of_date),
        "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": list(kept.values()),
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), len(kept)


def write_eligibility(path: Path, rows: Iterable[Mapping[str, Any]], as_of_date: date | None) -> int:
    """Write the file atomically, mode 0600; returns the number of customers published."""
    data, n = encode_rows(rows, as_of_date)
    write_private_file(Path(path), data)
    return n


def load_eligibility(path: Path) -> dict[str, Offer]:
    """customer_id -> Offer. Raises EligibilityFileError naming the file (and the row)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise EligibilityFileError(f"{path}: cannot read the eligibility file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("rows"), list):
        raise EligibilityFileError(f"{path}: not a {FORMAT} file")
    offers: dict[str, Offer] = {}
    for i, r in enumerate(doc["rows"]):
        try:
            offer = Offer(
                customer_id=str(r["customer_id"]), source=str(r["source"]), window_id=str(r["window_id"]),
                window_start=date.fromisoformat(r["window_start"]),
                window_end=date.fromisoformat(r["window_end"]),
                offer_id=str(r["offer_id"]), offer_text=str(r["offer_text"]),
                offer_image_url=r.get("offer_image_url") or None,
                offer_expires_on=date.fromisoformat(r["offer_expires_on"]),
                holdout=bool(r.get("holdout")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EligibilityFileError(f"{path}: row {i}: {type(exc).__name__}: {exc}") from None
        offers.setdefault(offer.customer_id, offer)
    return offers
