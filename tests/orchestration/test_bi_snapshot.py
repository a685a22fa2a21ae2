"""The BI snapshot never blocks the pipeline and readers never see a half refresh."""

import subprocess
import sys
import textwrap

import duckdb

from orchestration.publish.bi_snapshot import publish_snapshot


def _warehouse(path, n):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts; create schema if not exists staging")
    con.execute(f"create or replace table marts.subscriptions as select range as id from range({n})")
    con.execute("create or replace table staging.hidden as select 1 as x")
    return con


def test_snapshot_copies_marts_only(tmp_path):
    con = _warehouse(tmp_path / "w.duckdb", 5)
    counts = publish_snapshot(con, tmp_path / "bi" / "snap.duckdb", "2026-11-23")
    assert counts == {"marts.subscriptions": 5}
    snap = duckdb.connect(str(tmp_path / "bi" / "snap.duckdb"), read_only=True)
    assert snap.execute("select count(*) from marts.subscriptions").fetchone() == (5,)
    assert snap.execute("select as_of_date::varchar from meta.published").fetchone() == ("2026-11-23",)
    assert snap.execute(
        "select count(*) from information_schema.tables where table_schema = 'staging'"
    ).fetchone() == (0,)
    assert sorted(p.name for p in (tmp_path / "bi").iterdir()) == ["snap.duckdb"]


def test_a_reader_holding_the_snapshot_does_not_block_publishing(tmp_path):
    target = tmp_path / "snap.duckdb"
    con = _warehouse(tmp_path / "w.duckdb", 3)
    publish_snapshot(con, target, "2026-11-22")

    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            c = duckdb.connect({str(target)!r}, read_only=True)
            print(c.execute("select count(*) from marts.subscriptions").fetchone()[0], flush=True)
            sys.stdin.readline()   # hold the file open until told
            print(c.execute("select count(*) from marts.subscriptions").fetchone()[0], flush=True)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "3"
        con.execute("create or replace table marts.subscriptions as select range as id from range(7)")
        publish_snapshot(con, target, "2026-11-23")  # must not wait for or fail on the reader
        # the reader keeps its complete old version; a new reader sees the new one
        out, _ = reader.communicate("\n", timeout=30)
        assert out.strip() == "3"
    finally:
        reader.kill()
    assert duckdb.connect(str(target), read_only=True).execute(
        "select count(*) from marts.subscriptions").fetchone() == (7,)
