"""The command line: check (no warehouse) and load."""

from __future__ import annotations

from pathlib import Path

from connector_fixtures import ORDER_HEADER, ORDERS, query, write_csv
from connectors.csv_export.__main__ import main


def test_check_and_load(tmp_path: Path, export_dir: Path, capsys) -> None:
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    assert main(["check", str(export_dir), "--profile", "demo_merchant"]) == 0
    assert "[orders] ok 1 file(s), 2 rows" in capsys.readouterr().out
    wh = tmp_path / "w.duckdb"
    assert main(["load", str(export_dir), "--profile", "demo_merchant", "--warehouse", str(wh)]) == 0
    assert query(wh, "SELECT count(*) FROM raw_csv.orders") == [(2,)]

    bad = [list(r) for r in ORDERS]
    bad[0][2] = "昨日"
    write_csv(export_dir / "orders_2.csv", ORDER_HEADER, bad)
    assert main(["check", str(export_dir), "--profile", "demo_merchant"]) == 1
    out = capsys.readouterr().out
    assert "line 2, column 受注日時" in out
