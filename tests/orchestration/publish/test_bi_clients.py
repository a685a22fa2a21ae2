"""The BI snapshot opens in the DuckDB 1.x clients BI tools ship, and its Parquet files too.

Real clients, installed by `make bi-clients` (the Makefile, tests/bi_clients/): PyPI's DuckDB CLI
1.5.6, the DuckDB 1.0.0 Python package (the oldest 1.x, the floor of the storage format chosen),
and @duckdb/node-api 1.5.6-r.1, the Node client Evidence's DuckDB source depends on. Each reads
row counts and values and compares them with what the 2.0 warehouse holds.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from orchestration.publish.bi_snapshot import UnreadableTypeError, publish_snapshot

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = ROOT / "tests" / "bi_clients"
CLI = CLIENTS / "python" / "cli" / "duckdb_cli" / "duckdb"
PY_1_0 = CLIENTS / "python" / "py"
NODE_READER = CLIENTS / "read_snapshot.mjs"


def _require(path: Path) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make bi-clients` (make test does)")


# One column of every type the snapshot may hold (bi_snapshot.READABLE_TYPES), with the marts'
# own kinds of values: Japanese text, NULLs, dates, timestamps, yen amounts.
EVERY_TYPE = """
create table marts.every_type as select * from (values
  (1, true, 1::tinyint, 2::smallint, 3::integer, 9007199254740993::bigint,
   1.5::float, 0.1::double,
   '山田 花子', date '2026-11-23', time '06:00:00', timestamp '2026-11-23 06:00:00.123456',
   timestamptz '2026-11-23 06:00:00+09', interval 3 day, '2d1b1a4e-5f0c-4c9e-9a35-1c2f3b4a5d6e'::uuid,
   '\\xE3\\x81\\x82'::blob, 12345.67::decimal(12,2)),
  (2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
   null)
) t(id, b, ti, si, i, bi, f, d, txt, dt, tm, ts, tstz, iv, u, bl, dec)
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("bi_clients")
    warehouse = duckdb.connect(str(root / "w.duckdb"))
    warehouse.execute("create schema marts")
    warehouse.execute(EVERY_TYPE)
    warehouse.execute("create table marts.subscriptions as select range as id, "
                      "'定期便 ' || range as plan, range * 1980 as amount_yen from range(2500)")
    warehouse.execute("create table marts.customers as select 'csv:C' || range as customer_key, "
                      "'hanako' || range || '@example.jp' as email, '東京都' as prefecture from range(40)")
    target = root / "bi" / "teiki.duckdb"
    counts = publish_snapshot(warehouse, target, "2026-11-23", leave_out=["email"])
    yield warehouse, target, counts
    warehouse.close()


def _expected(warehouse, sql):
    return [[None if v is None else str(v) for v in row] for row in warehouse.execute(sql).fetchall()]


def _cli(database, sql):
    _require(CLI)
    where = [] if database == ":memory:" else ["-readonly", str(database)]
    result = subprocess.run([str(CLI), "-json", *where, "-c", sql],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout or "[]")


def _py_1_0(database, sql):
    _require(PY_1_0)
    code = textwrap.dedent(f"""
        import duckdb, json
        assert duckdb.__version__ == "1.0.0", duckdb.__version__
        con = duckdb.connect({str(database)!r}, read_only={database != ':memory:'})
        rows = con.execute({sql!r}).fetchall()
        print(json.dumps([[None if v is None else str(v) for v in r] for r in rows]))
    """)
    env = {**os.environ, "PYTHONPATH": str(PY_1_0)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _node(database, sql):
    _require(CLIENTS / "node_modules" / "@duckdb" / "node-api")
    node = shutil.which("node")
    assert node, "node is missing: run `make bi-clients` (scripts/ensure_node.sh)"
    result = subprocess.run([node, str(NODE_READER), str(database), sql], capture_output=True,
                            text=True, cwd=CLIENTS, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["version"] == "v1.5.6"
    return out["rows"]


# Values as text, in a form every version prints alike (the canonical casts).
VALUES_SQL = ("select id, b::varchar, ti, si, i, bi::varchar, f::varchar, d::varchar, "
              "txt, dt::varchar, tm::varchar, ts::varchar, epoch_us(tstz)::varchar, iv::varchar, "
              "u::varchar, hex(bl), dec::varchar from {table} order by id")
SUBSCRIPTIONS_SQL = ("select count(*)::varchar, sum(amount_yen)::varchar, max(plan), "
                     "count(distinct plan)::varchar from {table}")


def _warehouse_values(warehouse):
    every = _expected(warehouse, VALUES_SQL.format(table="marts.every_type"))
    subs = _expected(warehouse, SUBSCRIPTIONS_SQL.format(table="marts.subscriptions"))
    return every, subs


def _as_text(rows):
    return [[None if v is None else str(v) for v in row] for row in rows]


def test_duckdb_cli_1_5_opens_the_snapshot(published):
    warehouse, target, counts = published
    version = subprocess.run([str(CLI), "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v1.5.6"), version
    every, subs = _warehouse_values(warehouse)
    rows = _cli(target, VALUES_SQL.format(table="marts.every_type"))
    assert _as_text([list(r.values()) for r in rows]) == every
    rows = _cli(target, SUBSCRIPTIONS_SQL.format(table="marts.subscriptions"))
    assert _as_text([list(r.values()) for r in rows]) == subs == [["2500", str(1980 * 2499 * 2500 // 2),
                                                                  "定期便 999", "2500"]]
    assert _cli(target, "select as_of_date::varchar as d from meta.published") == [{"d": "2026-11-23"}]
    assert counts["marts.subscriptions"] == 2500


def test_duckdb_1_0_python_opens_the_snapshot(published):
    """The oldest 1.x: the storage format's floor."""
    warehouse, target, _ = published
    every, subs = _warehouse_values(warehouse)
    assert _py_1_0(target, VALUES_SQL.format(table="marts.every_type")) == every
    assert _py_1_0(target, SUBSCRIPTIONS_SQL.format(table="marts.subscriptions")) == subs


def test_evidence_node_client_opens_the_snapshot(published):
    warehouse, target, _ = published
    every, subs = _warehouse_values(warehouse)
    assert _node(target, VALUES_SQL.format(table="marts.every_type")) == every
    assert _node(target, SUBSCRIPTIONS_SQL.format(table="marts.subscriptions")) == subs


@pytest.mark.parametrize("client", [_cli, _py_1_0, _node], ids=["cli_1.5.6", "python_1.0.0", "node_1.5.6"])
def test_1x_clients_read_the_parquet_files(published, client):
    warehouse, target, _ = published
    parquet = target.parent / "parquet"
    assert sorted(p.name for p in parquet.iterdir()) == [
        "customers.parquet", "every_type.parquet", "subscriptions.parquet"]
    every, subs = _warehouse_values(warehouse)

    def read(sql, name):
        rows = client(":memory:", sql.format(table=f"read_parquet('{parquet / name}')"))
        return _as_text([list(r.values()) if isinstance(r, dict) else r for r in rows])

    assert read(VALUES_SQL, "every_type.parquet") == every
    assert read(SUBSCRIPTIONS_SQL, "subscriptions.parquet") == subs
    # the personal column left out of the snapshot is left out of the Parquet file too
    assert read("select column_name from (describe select * from {table})", "customers.parquet") == [
        ["customer_key"], ["prefecture"]]


def test_left_out_columns_are_absent_from_the_snapshot_for_1x_clients(published):
    _, target, _ = published
    rows = _cli(target, "select column_name from information_schema.columns "
                        "where table_name = 'customers' order by ordinal_position")
    assert [r["column_name"] for r in rows] == ["customer_key", "prefecture"]


@pytest.mark.parametrize("type_name, value", [
    # DuckDB 2.0 writes BIGNUM into a v1.0.0 file, and DuckDB 1.0 then cannot open the file at all
    ("BIGNUM", "12345678901234567890123::bignum"),
    # Parquet would hold it as DOUBLE: digits lost
    ("HUGEINT", "170141183460469231731687303715884105727::hugeint"),
])
def test_a_type_1x_clients_cannot_read_is_refused_and_the_old_snapshot_stays(tmp_path, type_name, value):
    warehouse = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.execute("create schema marts; create table marts.kpis as select 1 as id")
    target = tmp_path / "bi" / "teiki.duckdb"
    publish_snapshot(warehouse, target, "2026-11-22")
    before = target.read_bytes()
    warehouse.execute(f"create table marts.ltv as select 1 as id, {value} as v")
    with pytest.raises(UnreadableTypeError, match=rf"marts\.ltv, column v: type {type_name} "):
        publish_snapshot(warehouse, target, "2026-11-23")
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["parquet", "teiki.duckdb"]
    assert sorted(p.name for p in (target.parent / "parquet").iterdir()) == ["kpis.parquet"]


_PUBLISH = """
import sys, duckdb
from pathlib import Path
from orchestration.publish.bi_snapshot import publish_snapshot
con = duckdb.connect(sys.argv[1] + "/w.duckdb")
con.execute("create schema marts; create table marts.customers as select 'csv:C1' as customer_key")
publish_snapshot(con, Path(sys.argv[1]) / "bi" / "teiki.duckdb", "2026-11-23")
"""


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(None, 0o600, 0o700), ("027", 0o640, 0o750)])
def test_parquet_files_are_private_like_the_snapshot(tmp_path, umask, file_mode, dir_mode):
    env = {k: v for k, v in os.environ.items() if k != "TEIKI_UMASK"}
    if umask:
        env["TEIKI_UMASK"] = umask
    result = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask(0o022); exec({_PUBLISH!r})", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    bi = tmp_path / "bi"

    def mode(p):
        return stat.S_IMODE(p.stat().st_mode)

    assert mode(bi / "teiki.duckdb") == file_mode
    assert mode(bi / "parquet") == dir_mode
    assert mode(bi / "parquet" / "customers.parquet") == file_mode


def test_the_demo_marts_open_in_the_1x_cli_with_the_warehouse_counts(demo_run):
    """Every real mart of the session's 300-customer demo run (shared with other suites)."""
    run = demo_run(300, 11)
    snapshot = run.settings.bi_snapshot
    warehouse = duckdb.connect(str(run.settings.warehouse), read_only=True)
    try:
        tables = [t for (t,) in warehouse.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1").fetchall()]
        expected = {t: warehouse.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}
        customers = _expected(warehouse, "select customer_key, prefecture from marts.customers "
                                         "order by customer_key limit 5")
    finally:
        warehouse.close()
    assert len(tables) > 10
    union = " union all ".join(f"select '{t}' as t, count(*) as n from marts.\"{t}\"" for t in tables)
    assert {r["t"]: r["n"] for r in _cli(snapshot, union)} == expected
    parquet = snapshot.parent / "parquet"
    union = " union all ".join(
        f"select '{t}' as t, count(*) as n from read_parquet('{parquet / (t + '.parquet')}')" for t in tables)
    assert {r["t"]: r["n"] for r in _cli(":memory:", union)} == expected
    rows = _cli(snapshot, "select customer_key, prefecture from marts.customers order by customer_key limit 5")
    assert _as_text([list(r.values()) for r in rows]) == customers
