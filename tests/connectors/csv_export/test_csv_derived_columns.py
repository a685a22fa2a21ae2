"""The profile language maps an export as it is: value maps, constants, defaults, several headers
joined, one header split or matched, one header feeding two raw columns (README "Profile
reference"). Each is read from a real file through read_export, as a load would."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from connectors.csv_export import CsvExportError, ProfileError, read_export
from connectors.csv_export.profile import profile_from_dict

ORDERS = (
    "Order ID,Status,Created At,Detail,Last Name,First Name\n"
    "A-1,completed,2023-11-02T10:57:54Z,SKU:TEA-01 / qty 2,山田,太郎\n"
    "A-2,refunded,2026-11-23T14:05:09+09:00,SKU:TEA-02 / qty 1,佐藤,\n"
    "A-3,completed,2026-11-23 14:05:09,SKU:TEA-01 / qty 3,,花子\n"
)


def _profile(columns: dict) -> object:
    return profile_from_dict({
        "profile": "english_cart",
        "encoding": "utf-8",
        "timezone": "Asia/Tokyo",
        "streams": {"orders": {"file": "orders*.csv", "primary_key": ["order_id"],
                               "columns": {"order_id": {"header": "Order ID", "type": "string"},
                                           **columns}}},
    })


def _read(tmp_path: Path, columns: dict, text: str = ORDERS) -> dict[str, list]:
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    parsed = read_export(path, _profile(columns), "orders")
    return {name: [row[i] for row in parsed.rows] for i, name in enumerate(parsed.columns)}


def test_a_value_map_translates_the_carts_words(tmp_path: Path) -> None:
    got = _read(tmp_path, {"status": {"header": "Status", "type": "string",
                                      "map": {"completed": "発送済み", "refunded": "キャンセル"}}})
    assert got["status"] == ["発送済み", "キャンセル", "発送済み"]


def test_an_unmapped_value_is_an_error_with_its_count_and_first_line(tmp_path: Path) -> None:
    with pytest.raises(CsvExportError) as err:
        _read(tmp_path, {"status": {"header": "Status", "type": "string",
                                    "map": {"refunded": "キャンセル"}}})
    problems = err.value.problems
    assert len(problems) == 1  # one problem per distinct value, not per row
    assert problems[0].line == 2 and problems[0].column == "Status"
    assert "'completed'" in problems[0].message and "2 rows, first on line 2" in problems[0].message
    assert "nothing was loaded" in str(err.value)


def test_unmapped_keep_passes_other_values_as_written(tmp_path: Path) -> None:
    got = _read(tmp_path, {"status": {"header": "Status", "type": "string", "unmapped": "keep",
                                      "map": {"refunded": "キャンセル"}}})
    assert got["status"] == ["completed", "キャンセル", "completed"]


def test_a_constant_fills_a_column_the_export_lacks(tmp_path: Path) -> None:
    got = _read(tmp_path, {"channel": {"value": "web", "type": "string"},
                           "quantity_hint": {"value": 1, "type": "integer"}})
    assert got["channel"] == ["web"] * 3 and got["quantity_hint"] == [1] * 3


def test_a_default_fills_empty_cells_and_a_missing_header(tmp_path: Path) -> None:
    got = _read(tmp_path, {"first_name": {"header": "First Name", "type": "string", "default": "様"},
                           "consent": {"header": "Email Consent", "type": "string", "default": "unknown"}})
    assert got["first_name"] == ["太郎", "様", "花子"]
    assert got["consent"] == ["unknown"] * 3


def test_several_headers_join_into_one_column(tmp_path: Path) -> None:
    got = _read(tmp_path, {"name": {"headers": ["Last Name", "First Name"], "join": " ",
                                    "type": "string"}})
    assert got["name"] == ["山田 太郎", "佐藤", "花子"]  # empty parts are left out


def test_one_header_feeds_two_raw_columns_by_split_and_pattern(tmp_path: Path) -> None:
    got = _read(tmp_path, {
        "sku": {"header": "Detail", "type": "string", "pattern": r"SKU:([A-Z0-9-]+)"},
        "quantity": {"header": "Detail", "type": "integer", "pattern": r"qty (\d+)"},
        "detail_tail": {"header": "Detail", "type": "string", "split": {"separator": "/", "index": -1}},
    })
    assert got["sku"] == ["TEA-01", "TEA-02", "TEA-01"]
    assert got["quantity"] == [2, 1, 3]
    assert got["detail_tail"] == ["qty 2", "qty 1", "qty 3"]
    assert got["_extra"][0] is not None and "Detail" not in got["_extra"][0]  # mapped, not extra


def test_iso_timestamps_with_and_without_a_zone_in_one_column(tmp_path: Path) -> None:
    got = _read(tmp_path, {"ordered_at": {"header": "Created At", "type": "datetime"}})
    assert got["ordered_at"] == [datetime(2023, 11, 2, 10, 57, 54), datetime(2026, 11, 23, 5, 5, 9),
                                 datetime(2026, 11, 23, 5, 5, 9)]


def test_rules_classify_a_url_into_a_page_type_first_match_wins(tmp_path: Path) -> None:
    """A cart's own URL layout, told once in its profile (web visits whose export has no page type)."""
    visits = ("Order ID,URL\n"
              "V-1,https://shop.example.jp/mypage/teiki/cancel?id=9\n"
              "V-2,https://shop.example.jp/mypage/teiki\n"
              "V-3,https://shop.example.jp/item/TEA-01\n"
              "V-4,https://shop.example.jp/blog/spring\n"
              "V-5,\n")
    got = _read(tmp_path, {"page_type": {
        "header": "URL", "type": "string", "default": "other",
        "rules": [{"when": r"/mypage/teiki/cancel", "value": "cancel"},   # before the mypage rule
                  {"when": r"/mypage", "value": "mypage"},
                  {"when": r"/item/", "value": "product"}]}}, visits)
    assert got["page_type"] == ["cancel", "mypage", "product", "other", "other"]


def test_a_mapped_value_still_meets_its_type(tmp_path: Path) -> None:
    with pytest.raises(CsvExportError, match="not an integer"):
        _read(tmp_path, {"status": {"header": "Status", "type": "integer", "unmapped": "keep",
                                    "map": {"refunded": "9"}}})


@pytest.mark.parametrize("column, message", [
    ({"type": "string"}, "missing 'header'"),
    ({"header": "Status", "value": "x", "type": "string"}, "not header and value"),
    ({"headers": ["Last Name"], "join": " ", "type": "string"}, "two or more"),
    ({"headers": ["Last Name", "First Name"], "type": "string"}, "needs 'join'"),
    ({"header": "Status", "join": " ", "type": "string"}, "'join' goes with 'headers'"),
    ({"header": "Detail", "pattern": "SKU", "type": "string"}, "exactly one group"),
    ({"header": "Detail", "pattern": "(", "type": "string"}, "not a regular expression"),
    ({"header": "Detail", "split": {"separator": ""}, "type": "string"}, "'split' must be"),
    ({"header": "Status", "map": {"a": True}, "type": "string"}, "quote both sides"),
    ({"header": "Status", "unmapped": "drop", "map": {"a": "b"}, "type": "string"}, "'unmapped' must be"),
    ({"header": "Status", "unmapped": "keep", "type": "string"}, "'unmapped' goes with 'map'"),
    ({"value": True, "type": "string"}, "quote true/false"),
    ({"header": "Detail", "rules": [], "type": "string"}, "'rules' must list"),
    ({"header": "Detail", "rules": [{"when": "(", "value": "x"}], "type": "string"}, "rule 1: 'when' is not"),
    ({"header": "Detail", "rules": [{"when": "a", "value": "x", "then": "y"}], "type": "string"}, "rule 1 must be"),
    ({"header": "Status", "rules": [{"when": "a", "value": "x"}], "map": {"a": "b"}, "type": "string"},
     "not both"),
])
def test_a_wrong_derived_column_names_the_column(column: dict, message: str) -> None:
    with pytest.raises(ProfileError) as err:
        _profile({"status": column})
    assert any(p.column == "orders.status" and message in p.message for p in err.value.problems), \
        err.value.problems
