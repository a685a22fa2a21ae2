"""A merchant's own exports, unlike the demo cart's in every way, load through a profile alone.

The world (foreign_shop.py) is the demo merchant's records written by an English-language
subscription cart: UTF-8, English headers and status words, ISO-8601 UTC times, page types
instead of URLs, packed name and order-line columns, no consent columns, no line totals. The
shipped profile `english_subscription_shop` must read it as written: `check` says every file is
ok and names the missing consent; a load gives the demo export's rows, value for value, in every
column both carts export. The pipeline on this world is in test_csv_foreign_shop_marts.py (slow).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from connectors.csv_export import load_export_dir
from connectors.csv_export.__main__ import main as csv_export_cli
from connectors.csv_export.check import check_export
from demo_merchant.generate import generate
from demo_pipeline import DEMO_AS_OF
from foreign_shop import DEMO_PROFILE, FILES, PROFILE, write_foreign_shop

CUSTOMERS, SEED = 300, 11  # the world test_csv_foreign_shop_marts.py runs (it has 発送待ち orders)
# The consent the foreign cart does not export (the raw columns stay NULL: unknown).
CONSENT = {("customers", c) for c in ("email_opt_in", "line_opt_in", "dm_opt_in", "phone_opt_in")}
# Raw columns the two carts write differently on purpose, compared on their own below:
# the foreign cart logs page types, not URLs; it writes no 小計; plan changes' before/after are
# in its own words ("active", "30 days").
DIFFERENT = {("web_events", "url"), ("web_events", "page_type"), ("order_lines", "line_total"),
             ("subscription_events", "before_value"), ("subscription_events", "after_value")}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> tuple[Path, Path]:
    demo = tmp_path_factory.mktemp("demo_exports")
    generate(demo, customers=CUSTOMERS, seed=SEED, as_of=DEMO_AS_OF)
    foreign = tmp_path_factory.mktemp("foreign_exports")
    write_foreign_shop(demo, foreign)
    return demo, foreign


@pytest.fixture(scope="module")
def warehouse(worlds, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """Both worlds loaded into one warehouse: raw_demo.* by the demo profile, raw_foreign.* by
    the foreign shop's."""
    demo, foreign = worlds
    path = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    load_export_dir(path, demo, "demo_merchant", source="demo")
    load_export_dir(path, foreign, "english_subscription_shop", source="foreign")
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def test_the_world_is_unlike_the_demo_cart(worlds):
    """Guards the world itself: were it to drift back towards the demo cart's format, the tests
    below would prove less."""
    _, foreign = worlds
    demo_headers = {c["header"] for s in yaml.safe_load(DEMO_PROFILE.read_text(encoding="utf-8"))["streams"].values()
                    for c in s["columns"].values()}
    japanese_status = {"発送済み", "継続中", "解約済み", "成功", "失敗", "解約相談", "電話", "マイページ", "付与"}
    for name, _ in FILES.values():
        raw = (foreign / name).read_bytes()
        text = raw.decode("utf-8")  # UTF-8, else this raises
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
        rows = list(csv.reader(text.splitlines()))
        header = rows[0]
        assert all(h.isascii() for h in header) and not set(header) & demo_headers, name
        assert not any(re.search("opt|consent|marketing|permission", h, re.I) for h in header), name
        if name == FILES["order_lines"][0]:
            assert not any(re.search("total|amount", h, re.I) for h in header), header
        cells = {c for r in rows[1:] for c in r}
        assert not cells & japanese_status, name
        assert not any(re.fullmatch(r"\d{4}/\d{2}/\d{2}( [\d:]+)?", c) for c in cells), name  # no cart-style dates
        stamps = [c for c in cells if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", c)]
        assert stamps, f"{name}: no ISO-8601 UTC timestamp"
    with open(foreign / FILES["web_events"][0], encoding="utf-8", newline="") as fh:
        visits = list(csv.DictReader(fh))
    assert "URL" not in visits[0] and "cancel_confirm" in {v["Page"] for v in visits}
    assert not [v for v in visits if "://" in v["Page"]]
    items = (foreign / FILES["order_lines"][0]).read_text(encoding="utf-8")
    assert re.search(r"SKU:\S+ / qty \d+ / ¥[\d,]+", items)


def test_check_says_every_file_is_ok_and_names_the_missing_consent(worlds, capsys):
    _, foreign = worlds
    report = check_export(foreign, "english_subscription_shop")
    assert report.ok
    for stream in report.streams:
        assert stream.files and stream.rows > 0 and not stream.failures, stream.stream
        # every mapped enumerated value is one Teiki knows: nothing becomes 'unknown'
        assert stream.unknown_labels == {}, (stream.stream, stream.unknown_labels)
    assert {(f.stream, f.column) for f in report.degraded} == CONSENT
    text = report.text("en")
    assert "no phone consent: nobody can be put on the call list" in text
    assert "no e-mail consent" in text and "no postal-DM consent" in text
    # the command line a merchant runs says the same and exits 0
    assert csv_export_cli(["check", str(foreign), "--profile", str(PROFILE), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok 1 file(s)") == len(FILES) and "FAIL" not in out
    assert "no phone consent" in out


def _columns(con, schema: str, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
        "and column_name not like '\\_%' escape '\\' order by column_index", [schema, table]).fetchall()]


@pytest.mark.parametrize("stream", list(FILES))
def test_a_load_gives_the_demo_exports_rows(warehouse, stream):
    con = warehouse
    demo_n = con.execute(f"select count(*) from raw_demo.{stream}").fetchone()[0]
    foreign_n = con.execute(f"select count(*) from raw_foreign.{stream}").fetchone()[0]
    assert foreign_n == demo_n > 0
    columns = _columns(con, f"raw_{'demo'}", stream)
    assert sorted(_columns(con, "raw_foreign", stream)) == sorted(columns)  # the raw contract, whatever the profile
    same = [c for c in columns if (stream, c) not in CONSENT | DIFFERENT]
    cols = ", ".join(same)
    only_demo = con.execute(f"select {cols} from raw_demo.{stream} except all "
                            f"select {cols} from raw_foreign.{stream} limit 3").fetchall()
    only_foreign = con.execute(f"select {cols} from raw_foreign.{stream} except all "
                               f"select {cols} from raw_demo.{stream} limit 3").fetchall()
    assert (only_demo, only_foreign) == ([], []), f"{stream} differs in {same}"
    # what the foreign cart does not export is NULL (unknown), not false or 0
    for _, column in sorted(c for c in CONSENT | {("order_lines", "line_total"), ("web_events", "url")}
                            if c[0] == stream):
        assert con.execute(f"select count({column}) from raw_foreign.{stream}").fetchone()[0] == 0, column
    if stream == "customers":
        assert con.execute("select count(*) from raw_demo.customers where phone_opt_in").fetchone()[0] > 0


def test_the_exported_page_types_are_the_ones_the_url_rules_give(warehouse):
    """The foreign cart's page words, mapped by the profile, name the same pages as the demo
    cart's URLs under Teiki's URL rules (dbt_project/macros/web_pages.sql, as staging applies
    them; this comparison repeats the rules in SQL for the raw layer)."""
    rules = [("cancel", "^/mypage/teiki/cancel(/|$)"), ("faq", "^/faq(/|$)"), ("contact", "^/contact(/|$)"),
             ("mypage", "^/mypage(/|$)"), ("product", "^/products/[^/]+"), ("top", "^/(index\\.html?)?$")]
    path = "'/' || rtrim(lower(regexp_extract(d.url, '^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?/*([^?#]*)', 1)), '/')"
    case = "case " + " ".join(f"when regexp_matches({path}, '{rx}') then '{t}'" for t, rx in rules) + " else 'other' end"
    differing = warehouse.execute(
        f"select d.event_id, d.url, f.page_type from raw_demo.web_events d "
        f"join raw_foreign.web_events f using (event_id) where f.page_type is distinct from {case} limit 3").fetchall()
    assert differing == []
    kinds = dict(warehouse.execute("select page_type, count(*) from raw_foreign.web_events group by all").fetchall())
    assert {"cancel", "faq", "mypage", "product", "top"} <= set(kinds)


def test_order_lines_have_no_total_but_all_it_is_made_of(warehouse):
    """The foreign cart's lines carry no 小計; staging derives it from what the packed Item
    column holds (stg_csv__order_lines). The parts are the demo's, so the derived total is the
    demo cart's 小計 on every line."""
    off = warehouse.execute(
        "select d.order_id, d.line_number, d.line_total, f.unit_price * f.quantity - coalesce(f.discount, 0) "
        "from raw_demo.order_lines d join raw_foreign.order_lines f using (order_id, line_number) "
        "where d.line_total <> f.unit_price * f.quantity - coalesce(f.discount, 0) limit 3").fetchall()
    assert off == []


def test_the_profile_maps_onto_the_raw_contract():
    """Every column the foreign profile fills is a raw contract column of the same type (dbt
    staging reads them), and what it leaves out is exactly what the cart does not export."""
    from connectors.csv_export import load_profile

    demo, foreign = load_profile("demo_merchant"), load_profile("english_subscription_shop")
    assert set(foreign.streams) == set(demo.streams)
    left_out = set()
    for name, stream in foreign.streams.items():
        reference = {c.name: c.type for c in demo.streams[name].columns}
        assert {c.name: c.type for c in stream.columns}.items() <= reference.items(), name
        assert stream.primary_key == demo.streams[name].primary_key
        left_out |= {(name, c) for c in reference} - {(name, c.name) for c in stream.columns}
    assert left_out == CONSENT | {("order_lines", "line_total"), ("web_events", "url")}


def test_the_world_uses_every_word_the_profile_maps(worlds):
    """A map entry no row uses would go untested by the comparison above (a wrong label there
    would load unseen). The two left are words this world cannot produce: the demo cart has no
    campaign pages, and its pause reasons (unwell, travelling) never end a contract."""
    from connectors.csv_export import load_profile
    from connectors.csv_export.loader import stream_files

    _, foreign = worlds
    profile = load_profile("english_subscription_shop")
    files = stream_files(foreign, profile)
    unused = set()
    for name, stream in profile.streams.items():
        with open(files[name][0], encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for column in stream.columns:
            if column.map:
                unused |= {(name, column.name, w) for w in set(column.map) - {r[column.header] for r in rows}}
    assert unused == {("web_events", "page_type", "campaign"), ("subscriptions", "cancel_reason", "unwell"),
                      ("subscriptions", "cancel_reason", "travelling")}
