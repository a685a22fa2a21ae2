"""Benchmark: recording one message's outcome in a large action ledger (ledger.mark_status).

Not collected by pytest. Run: .venv/bin/python benchmarks/ledger_status.py [ledger rows] [days]
Builds a ledger of N decisions spread over D days (appended day by day, as the daily refresh
writes it) in a real DuckDB file, then times the two status updates every sent message gets
(in_doubt before transmission, the outcome after) for 300 sends of the last day. Prints
milliseconds per update and the machine's load. Every update must hit exactly one row.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from orchestration.actions import ledger  # noqa: E402

FIRST_DAY = date(2025, 12, 1)


def main(rows: int, days: int) -> None:
    per_day = rows // days
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"))
        ledger.ensure_ledger(con)
        start = time.perf_counter()
        for d in range(days):  # one append per day, as the refresh writes it
            con.execute(f"""
                insert into {ledger.LEDGER_TABLE} (campaign, action_date, customer_key, step, customer_id,
                    channel, arm, decision, reason, idempotency_key, status, recorded_at)
                select 'c' || (i % 3), ?::date, 'k' || i, '', 'C' || i, 'line', 'treatment', 'send', 'chosen',
                       md5(?::varchar || ':' || i), 'planned', now()
                from range({per_day}) t(i)""", [FIRST_DAY + timedelta(d), d])
        print(f"ledger: {per_day * days:,} rows over {days} days, built in {time.perf_counter() - start:.1f} s")
        last = FIRST_DAY + timedelta(days - 1)
        sends = con.execute(f"""select campaign, idempotency_key from {ledger.LEDGER_TABLE}
                                where action_date = ? limit 300""", [last]).fetchall()
        start = time.perf_counter()
        for campaign, key in sends:
            ledger.mark_status(con, campaign, last, key, "in_doubt")
            ledger.mark_status(con, campaign, last, key, "sent", provider_message_id="m")
        per_update = (time.perf_counter() - start) / (2 * len(sends)) * 1000
        sent = con.execute(f"select count(*) from {ledger.LEDGER_TABLE} where status = 'sent'").fetchone()[0]
        assert sent == len(sends), (sent, len(sends))
        print(f"mark_status: {per_update:.2f} ms per update ({2 * len(sends)} updates, {sent} rows sent)")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000, int(sys.argv[2]) if len(sys.argv) > 2 else 60)
