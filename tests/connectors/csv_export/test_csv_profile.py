"""Profile loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors.csv_export import ProfileError, available_profiles, load_profile, raw_stream
from connectors.csv_export.profile import PROFILES_DIR


def test_shipped_profiles_load_by_name_and_path() -> None:
    assert {"demo_merchant", "ecforce_teiki"} <= set(available_profiles())
    by_name = load_profile("demo_merchant")
    by_path = load_profile(PROFILES_DIR / "demo_merchant.yaml")
    assert by_name.streams == by_path.streams
    assert by_name.timezone == "Asia/Tokyo"
    assert by_name.stream("order_lines").primary_key == ("order_id", "line_number")
    assert by_name.stream("orders").column("order_id").not_null  # primary key => not_null


def test_unknown_profile_name_lists_available() -> None:
    with pytest.raises(ProfileError, match="demo_merchant"):
        load_profile("no_such_cart")


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "cart.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _base() -> dict:
    return {
        "profile": "cart",
        "encoding": "auto",
        "timezone": "Asia/Tokyo",
        "true_values": ["1"],
        "false_values": ["0"],
        "streams": {
            "orders": {
                "file": "orders*.csv",
                "primary_key": ["order_id"],
                "cursor_field": "updated_at",
                "columns": {
                    "order_id": {"header": "受注番号", "type": "string"},
                    "updated_at": {"header": "更新日時", "type": "datetime"},
                },
            }
        },
    }


@pytest.mark.parametrize(
    ("mutate", "where", "message"),
    [
        (lambda d: d["streams"]["orders"]["columns"]["order_id"].update(type="money"),
         "orders.order_id", "unknown type 'money'"),
        (lambda d: d["streams"]["orders"]["columns"]["order_id"].pop("header"),
         "orders.order_id", "missing 'header'"),
        (lambda d: d["streams"]["orders"].update(primary_key=["order_no"]),
         "orders", "primary key column 'order_no' is not among the columns"),
        (lambda d: d["streams"]["orders"].update(cursor_field="changed_at"),
         "orders", "cursor_field 'changed_at'"),
        (lambda d: d["streams"]["orders"]["columns"]["order_id"].update(not_nul=True),
         "orders.order_id", "unknown key 'not_nul'"),
        (lambda d: d["streams"]["orders"]["columns"]["order_id"].update(required=False),
         "orders.order_id", "primary key column cannot be required: false"),
        (lambda d: d.update(timezone="Asia/Edo"), None, "unknown timezone"),
        (lambda d: d.update(encoding="shift-jis"), None, "encoding 'shift-jis'"),
        (lambda d: d.update(true_values=[1]), None, "true_values must be a list of strings"),
        # only a figure Teiki also derives can be declared the one to trust
        (lambda d: d["streams"]["orders"]["columns"]["updated_at"].update(authoritative=True),
         "orders.updated_at", "'authoritative' applies only to an export figure"),
        (lambda d: d["streams"]["orders"]["columns"]["order_id"].update(authoritative="yes"),
         "orders.order_id", "authoritative must be true or false"),
    ],
)
def test_invalid_profile_names_file_and_stream(tmp_path: Path, mutate, where, message) -> None:
    data = _base()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    err = info.value
    assert str(path) in str(err)
    assert any(message in p.message and p.column == where for p in err.problems), str(err)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    data = _base()
    data["streams"]["orders"]["columns"]["order_id"]["type"] = "money"
    data["streams"]["orders"]["primary_key"] = ["nope"]
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, data))
    assert info.value.total == 2


def test_invalid_yaml_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("profile: x\nstreams:\n  orders: {file: [\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="invalid YAML") as info:
        load_profile(path)
    assert info.value.problems[0].line is not None


def test_ecforce_profile_maps_onto_the_demo_subscriptions_columns() -> None:
    demo = raw_stream(load_profile("demo_merchant"), "subscriptions")
    ecforce = raw_stream(load_profile("ecforce_teiki"), "subscriptions")
    assert ecforce.columns == demo.columns  # same raw names and types, same order
    assert ecforce.primary_key == demo.primary_key
    assert ecforce.cursor_field == demo.cursor_field


def test_an_export_figure_declared_authoritative_is_named_by_the_profile(tmp_path: Path) -> None:
    data = _base()
    data["streams"]["subscriptions"] = {
        "file": "subs*.csv", "primary_key": "subscription_id",
        "columns": {"subscription_id": {"header": "定期受注番号", "type": "string"},
                    "delivery_count": {"header": "定期回数", "type": "integer", "authoritative": True}},
    }
    assert load_profile(_write(tmp_path, data)).authoritative_figures == ("subscriptions.delivery_count",)
    assert load_profile("demo_merchant").authoritative_figures == ()
