"""The postal DM channel: the vendor's 宛名 CSV, one private file per batch, exactly once."""

from __future__ import annotations

import csv
import io
import os
import stat
from datetime import date
from pathlib import Path

import pytest

from connectors.channels.base import Channel, OutboundMessage
from connectors.channels.factory import channel_from_env
from connectors.channels.outbox import ChannelConfigError, Outbox
from connectors.channels.postal_dm import PostalDmChannel, normalize_postal_code, postal_dm_channel_from_env
from connectors.channels.settings import ChannelsSettings, PostalDmSettings

HEADER = ["郵便番号", "都道府県", "住所1", "住所2", "氏名", "敬称", "顧客ID", "オファー", "クーポンコード", "本文", "管理番号"]


def msg(i, campaign="winback_dm", day="20261202", **extra):
    address = {"postal_code": f"150000{i}", "prefecture": "東京都", "address1": f"渋谷区神宮前{i}-2-3",
               "address2": "テイキビル 4F", "full_name": f"山田 花子{i}", "customer_id": f"C{i:04d}",
               "fields": {"オファー": "次回10%OFF", "クーポンコード": "WINBACK10"}}
    address.update(extra)
    return OutboundMessage(f"{campaign}:-:{day}:c{i}", campaign, f"c{i}", f"c{i}",
                           f"山田 花子{i} 様\nいつもありがとうございます。", extra=address)


def read(path, encoding="cp932"):
    raw = path.read_bytes()
    assert b"\r\n" in raw
    return list(csv.reader(io.StringIO(raw.decode(encoding), newline="")))


def test_dry_run_writes_one_cp932_file_with_the_vendor_columns(tmp_path):
    ch = PostalDmChannel(outbox=tmp_path / "outbox")
    assert isinstance(ch, Channel) and ch.dry_run and ch.name == "postal_dm"
    results = list(ch.send([msg(1), msg(2, postal_code="〒１５０－０００２")]))
    files = Outbox(tmp_path / "outbox").files("postal_dm")
    assert [f.name for f in files] == [files[0].name] and files[0].name.startswith("winback_dm_20261202_")
    rows = read(files[0])
    assert rows[0] == HEADER
    assert rows[1] == ["150-0001", "東京都", "渋谷区神宮前1-2-3", "テイキビル 4F", "山田 花子1", "様", "C0001",
                       "次回10%OFF", "WINBACK10", "山田 花子1 様\nいつもありがとうございます。", "winback_dm:-:20261202:c1"]
    assert rows[2][0] == "150-0002" and len(rows) == 3
    assert [r.status for r in results] == ["dry_run", "dry_run"]
    rel = files[0].relative_to(tmp_path / "outbox").as_posix()
    assert [r.provider_message_id for r in results] == [f"outbox:{rel}#row=1", f"outbox:{rel}#row=2"]


def test_a_character_cp932_lacks_rejects_that_message_only(tmp_path):
    ch = PostalDmChannel(outbox=tmp_path)
    results = list(ch.send([msg(1, full_name="𠮷田 太郎"), msg(2, full_name="髙橋 一郎"),
                            msg(3, address2="1〜2号室 − 東棟")]))
    assert [r.status for r in results] == ["rejected", "dry_run", "dry_run"]
    assert "氏名" in results[0].error and "'𠮷'" in results[0].error and "utf-8-sig" in results[0].error
    rows = read(Outbox(tmp_path).files("postal_dm")[0])
    assert [r[4] for r in rows[1:]] == ["髙橋 一郎", "山田 花子3"]
    assert rows[2][3] == "1～2号室 － 東棟"  # the look-alikes as cp932 spells them


def test_utf8_sig_holds_every_character(tmp_path):
    ch = PostalDmChannel(PostalDmSettings(encoding="utf-8-sig"), outbox=tmp_path)
    assert [r.status for r in ch.send([msg(1, full_name="𠮷田 太郎 🌸")])] == ["dry_run"]
    path = Outbox(tmp_path).files("postal_dm")[0]
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read(path, "utf-8-sig")[1][4] == "𠮷田 太郎 🌸"


@pytest.mark.parametrize("extra, named", [
    ({"postal_code": None}, "郵便番号"), ({"address1": "  "}, "住所1"), ({"full_name": ""}, "氏名"),
    ({"postal_code": "150-00"}, "7 digits"),
])
def test_a_missing_address_part_rejects_the_message_with_the_reason(tmp_path, extra, named):
    results = list(PostalDmChannel(outbox=tmp_path).send([msg(1, **extra), msg(2)]))
    assert [r.status for r in results] == ["rejected", "dry_run"]
    assert named in results[0].error and "winback_dm:-:20261202:c1" in results[0].error
    assert "渋谷" not in results[0].error  # never the address
    assert len(read(Outbox(tmp_path).files("postal_dm")[0])) == 2


def test_rerun_of_the_same_batch_rewrites_the_same_file(tmp_path):
    ch = PostalDmChannel(outbox=tmp_path)
    first = list(ch.send([msg(1), msg(2), msg(3)]))
    path = Outbox(tmp_path).files("postal_dm")[0]
    before = path.read_bytes()
    os.utime(path, (0, 0))
    second = list(ch.send([msg(1), msg(2), msg(3)]))
    assert Outbox(tmp_path).files("postal_dm") == [path] and path.stat().st_mtime > 0  # rewritten
    assert path.read_bytes() == before and second == first
    assert not list(tmp_path.rglob(".*"))  # no temporary file left


def test_a_second_batch_never_overwrites_the_first(tmp_path):
    ch = PostalDmChannel(outbox=tmp_path)
    list(ch.send([msg(1), msg(2), msg(3)]))
    first = Outbox(tmp_path).files("postal_dm")[0]
    before = first.read_bytes()
    # a re-run after a crash passes what the ledger had not recorded, plus a new customer
    results = list(ch.send([msg(2), msg(3), msg(4)]))
    files = Outbox(tmp_path).files("postal_dm")
    assert len(files) == 2 and first.read_bytes() == before
    second = next(f for f in files if f != first)
    assert [r[-1] for r in read(second)[1:]] == ["winback_dm:-:20261202:c4"]  # only the new one
    rel = first.relative_to(tmp_path).as_posix()
    assert [r.provider_message_id for r in results[:2]] == [f"outbox:{rel}#row=2", f"outbox:{rel}#row=3"]
    assert [r.status for r in results] == ["dry_run"] * 3
    # another day or another campaign: another file
    list(ch.send([msg(1, day="20261203"), msg(1, campaign="other_dm")]))
    assert len(Outbox(tmp_path).files("postal_dm")) == 4


def test_files_are_0600_in_0700_folders(tmp_path):
    list(PostalDmChannel(outbox=tmp_path / "outbox").send([msg(1)]))
    path = Outbox(tmp_path / "outbox").files("postal_dm")[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, path.parent.parent, tmp_path / "outbox"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_live_writes_into_the_delivery_folder(tmp_path):
    delivery = tmp_path / "vendor" / "upload"
    ch = postal_dm_channel_from_env({"TEIKI_POSTAL_DM_DELIVERY_DIR": str(delivery)}, PostalDmSettings(),
                                    tmp_path / "outbox")
    assert not ch.dry_run
    results = list(ch.send([msg(1), msg(2, postal_code="")]))
    assert [r.status for r in results] == ["sent", "rejected"]
    (path,) = delivery.iterdir()
    assert results[0].provider_message_id == f"postal_dm:{path.name}#row=1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(delivery.stat().st_mode) == 0o700
    assert read(path)[1][4] == "山田 花子1"
    assert not (tmp_path / "outbox").exists()  # nothing in the outbox
    # passed again (the ledger had not recorded it): answered from the file, not written twice
    again = list(ch.send([msg(1), msg(3)]))
    assert again[0].status == "already_sent" and again[0].provider_message_id == results[0].provider_message_id
    assert again[1].status == "sent" and len(list(delivery.iterdir())) == 2


def test_factory_builds_it_dry_unless_live(tmp_path):
    env = {"TEIKI_POSTAL_DM_DELIVERY_DIR": str(tmp_path / "vendor")}
    live = channel_from_env("postal_dm", env, ChannelsSettings(), tmp_path / "outbox", timezone="Asia/Tokyo")
    assert isinstance(live, PostalDmChannel) and not live.dry_run and live.delivery_dir == tmp_path / "vendor"
    assert channel_from_env("postal_dm", env, ChannelsSettings(), tmp_path / "outbox", live=False).dry_run
    assert channel_from_env("postal_dm", {}, ChannelsSettings(), tmp_path / "outbox").dry_run
    with pytest.raises(ChannelConfigError, match="absolute"):
        postal_dm_channel_from_env({"TEIKI_POSTAL_DM_DELIVERY_DIR": "vendor/upload"}, None, tmp_path)


def test_send_day_and_postal_codes():
    ch = PostalDmChannel(outbox=Path("/nonexistent"))
    assert ch.send_day(msg(1)) == date(2026, 12, 2)
    assert ch.send_day(msg(1, send_date="2026-12-24")) == date(2026, 12, 24)
    assert [normalize_postal_code(v) for v in ("1500001", "150-0001", "〒１５０－０００１", " 150ー0001 ", "15000", "abc-defg")] \
        == ["150-0001"] * 4 + [None, None]
