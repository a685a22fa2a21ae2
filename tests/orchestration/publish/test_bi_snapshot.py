"""The BI snapshot never blocks the pipeline and readers never see a half refresh."""

import os
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

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
    assert sorted(p.name for p in (tmp_path / "bi").iterdir()) == ["parquet", "snap.duckdb"]
    assert sorted(p.name for p in (tmp_path / "bi" / "parquet").iterdir()) == ["subscriptions.parquet"]


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


def _temp_file(target, pid, suffix=".tmp"):
    return target.with_name(f".{target.name}.{pid}{suffix}")


def test_the_next_publish_removes_what_a_killed_publish_left(tmp_path):
    """SIGKILL a real publish after its temporary file is written, before the rename."""
    warehouse = tmp_path / "w.duckdb"
    _warehouse(warehouse, 1000).close()
    target = tmp_path / "bi" / "snap.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import os, sys, time, duckdb
            from pathlib import Path
            from orchestration.publish import bi_snapshot
            def stop_here(*args):   # the kill point: the file is complete, not yet renamed
                print("written", flush=True)
                time.sleep(600)
            bi_snapshot.os.replace = stop_here
            con = duckdb.connect({str(warehouse)!r}, read_only=True)
            bi_snapshot.publish_snapshot(con, Path({str(target)!r}), "2026-11-22")
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "written"
    finally:
        child.kill()  # SIGKILL: no finally, no atexit in the child
        child.wait(timeout=30)
    left = _temp_file(target, child.pid)
    assert left.exists() and not target.exists()

    con = duckdb.connect(str(warehouse), read_only=True)
    publish_snapshot(con, target, "2026-11-23")
    # the killed publish's Parquet folder (.parquet.<pid>.tmp) goes too
    assert sorted(p.name for p in target.parent.iterdir()) == ["parquet", "snap.duckdb"]


def test_stale_temp_files_go_and_a_running_publish_keeps_its_own(tmp_path):
    target = tmp_path / "bi" / "snap.duckdb"
    target.parent.mkdir()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait(timeout=30)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        dead = [_temp_file(target, ended.pid), _temp_file(target, ended.pid, ".tmp.wal")]
        live = _temp_file(target, running.pid)
        # the id of a process started after the file was last written: not that process's file
        reused = _temp_file(target, running.pid, ".tmp.wal")
        other_target = target.with_name(f".other.duckdb.{ended.pid}.tmp")
        for path in (*dead, live, reused, other_target):
            path.write_bytes(b"partial")
        os.utime(reused, (time.time() - 3600, time.time() - 3600))

        con = _warehouse(tmp_path / "w.duckdb", 2)
        publish_snapshot(con, target, "2026-11-23")

        assert sorted(p.name for p in target.parent.iterdir()) == sorted(
            ["snap.duckdb", "parquet", live.name, other_target.name])
    finally:
        running.kill()
        running.wait(timeout=30)


def _marts_with_personal_columns(path):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""create table marts.customers as select
        'csv:C1' as customer_key, '山田 花子' as full_name, 'ヤマダ ハナコ' as full_name_kana,
        'hanako@example.jp' as email, '09012345678' as phone, 'U4af4980629' as line_user_id,
        '100-0001' as postal_code, '東京都' as prefecture, '千代田1-1' as address1,
        date '1984-05-01' as birthday, 42 as age""")
    con.execute("create table marts.audience_birthday as select 'csv:C1' as customer_key, "
                "'hanako@example.jp' as email, 3 as days_until_birthday")
    con.close()


@pytest.mark.parametrize("settings_text, customers_columns, audience_columns", [
    ("", ["customer_key", "full_name", "full_name_kana", "email", "phone", "line_user_id",
          "postal_code", "prefecture", "address1", "birthday", "age"],
     ["customer_key", "email", "days_until_birthday"]),
    ("bi_snapshot: {include_contact_columns: false}\n", ["customer_key", "prefecture", "age"],
     ["customer_key", "days_until_birthday"]),
], ids=["default", "without_contact_columns"])
def test_the_setting_publishes_a_snapshot_without_contact_columns(
        tmp_path, settings_text, customers_columns, audience_columns):
    import dagster as dg

    from demo_pipeline import teiki_env
    from orchestration.publish.assets import build_publish_assets
    from orchestration.resources import WarehouseResource
    from orchestration.settings import load_settings
    from orchestration.transform.dbt_models import build_dbt_assets

    warehouse = tmp_path / "w.duckdb"
    _marts_with_personal_columns(warehouse)
    settings_file = tmp_path / "teiki.yaml"
    settings_file.write_text(settings_text, encoding="utf-8")
    with teiki_env(tmp_path / "data"):
        os.environ.update({"TEIKI_WAREHOUSE": str(warehouse), "TEIKI_SETTINGS": str(settings_file)})
        settings = load_settings()
        result = dg.materialize(build_publish_assets(settings, build_dbt_assets(settings)),
                                resources={"warehouse": WarehouseResource(path=str(warehouse))})
    assert result.success

    snap = duckdb.connect(str(settings.bi_snapshot), read_only=True)
    try:
        def columns(table):
            return [c for (c,) in snap.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' "
                "and table_name = ? order by ordinal_position", [table]).fetchall()]

        assert columns("customers") == customers_columns
        assert columns("audience_birthday") == audience_columns
        assert snap.execute("select count(*) from marts.customers").fetchone() == (1,)
    finally:
        snap.close()


def test_the_parquet_folder_is_replaced_whole(tmp_path):
    """A mart dropped from the warehouse leaves the Parquet folder too; nothing is left aside."""
    con = _warehouse(tmp_path / "w.duckdb", 4)
    con.execute("create table marts.kpis as select 1 as n")
    target = tmp_path / "bi" / "snap.duckdb"
    publish_snapshot(con, target, "2026-11-22")
    con.execute("drop table marts.kpis; create table marts.cohorts as select 2 as n")
    publish_snapshot(con, target, "2026-11-23")
    assert sorted(p.name for p in target.parent.iterdir()) == ["parquet", "snap.duckdb"]
    assert sorted(p.name for p in (target.parent / "parquet").iterdir()) == [
        "cohorts.parquet", "subscriptions.parquet"]
    assert duckdb.connect().execute(
        f"select n from read_parquet('{target.parent / 'parquet' / 'cohorts.parquet'}')").fetchall() == [(2,)]
