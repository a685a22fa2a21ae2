"""`check` tells a merchant, before any load, what their files will give: rows and columns per
stream, values Teiki's label list does not know, and what each missing fact costs, in Japanese
and English (connectors/csv_export/check.py holds the costs)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from connectors.csv_export.check import FACTS, check_export, known_labels, label_columns
from demo_merchant.generate import generate


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exports")
    generate(out, customers=150, seed=5)
    return out


def _rewrite(path: Path, edit) -> None:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("cp932"), newline="")))
    rows = edit(rows)
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("cp932"))


def test_the_demo_export_is_complete(exports: Path) -> None:
    report = check_export(exports, "demo_merchant")
    assert report.ok and report.degraded == []
    subs = next(s for s in report.streams if s.stream == "subscriptions")
    assert subs.rows > 0 and subs.missing == [] and subs.unknown_labels == {}
    text = report.text()
    assert "欠けている情報はありません。" in text and "No fact is missing." in text


def test_missing_facts_unknown_labels_and_failures_are_reported(exports: Path, tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    for f in exports.iterdir():
        if not f.name.startswith("inquiries"):
            (shop / f.name).write_bytes(f.read_bytes())

    def drop_phone_consent(rows):
        col = rows[0].index("電話連絡")
        return [r[:col] + r[col + 1:] for r in rows]

    def unknown_status(rows):
        col = rows[0].index("ステータス")
        for r in rows[1:4]:
            r[col] = "お休み中"
        return rows

    _rewrite(next(shop.glob("customers*.csv")), drop_phone_consent)
    _rewrite(next(shop.glob("subscriptions*.csv")), unknown_status)
    report = check_export(shop, "demo_merchant")

    degraded = {(f.stream, f.column) for f in report.degraded}
    assert degraded == {("inquiries", None), ("customers", "phone_opt_in")}
    customers = next(s for s in report.streams if s.stream == "customers")
    assert "phone_opt_in" in customers.missing and "phone_opt_in" not in customers.mapped
    subs = next(s for s in report.streams if s.stream == "subscriptions")
    assert subs.unknown_labels == {"status": {"お休み中": 3}}

    ja, en = report.text("ja"), report.text("en")
    assert "架電リストには誰も載りません" in ja and "問い合わせがないため" in ja
    assert "nobody can be put on the call list" in en and "no inquiries" in en
    assert "'お休み中' (3)" in ja and "'お休み中' (3)" in en
    assert "call list" not in ja and "架電" not in en
    assert report.ok  # a missing optional fact is not a failure


def test_a_bad_file_fails_the_check(exports: Path, tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    for f in exports.iterdir():
        (shop / f.name).write_bytes(f.read_bytes())
    (next(shop.glob("orders*.csv"))).write_bytes("受注番号\r\nX\r\n".encode("cp932"))
    report = check_export(shop, "demo_merchant")
    assert not report.ok
    assert "missing required column" in report.text("en")


def test_every_fact_names_a_stream_and_column_of_the_demo_profile() -> None:
    from connectors.csv_export import load_profile
    profile = load_profile("demo_merchant")
    for fact in FACTS:
        assert fact.stream in profile.streams, fact
        if fact.column:
            assert fact.column in {c.name for c in profile.stream(fact.stream).columns}, fact


def test_label_columns_come_from_the_staging_models() -> None:
    columns = label_columns()
    assert columns[("subscriptions", "status")] == "subscription_status"
    assert columns[("orders", "status")] == "order_status"
    assert "継続中" in known_labels()["subscription_status"]
