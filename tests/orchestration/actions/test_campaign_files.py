"""Campaign files are validated on load: a clear error names the file, the key and the problem;
templates may use only the audience's columns and the documented globals."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from orchestration.actions.campaigns import (
    CampaignFileError, CampaignOverride, CampaignSettings, RenderError, load_campaigns, render,
)

sys.path.insert(0, str(Path(__file__).parent))
from campaign_world import CAMPAIGN, build  # noqa: E402


@pytest.fixture
def world(tmp_path):
    return build(tmp_path)


def load(world, **settings):
    return load_campaigns(CampaignSettings(folder=str(world["campaigns"]), **settings),
                          playbook=world["playbook"], manifest=world["manifest"])


def rewrite(world, name, old, new):
    path = world["campaigns"] / f"{name}.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")
    return path


def test_the_world_loads_in_priority_order(world):
    assert [c.name for c in load(world)] == ["mail_test", "line_test"]


@pytest.mark.parametrize("old,new,expected", [
    ("priority: 60", "priority: 60\ncolour: blue", "colour: unknown key"),
    ("holdout_share: 0.25", "holdout_share: 1.5", "holdout_share: Input should be less than 1"),
    ("channels: [mail]", "channels: [fax]", "channels.0:"),
    ("min: 1, max: 5", "min: 5, max: 1", "trigger min 5 is after max 1"),
    ("column: days_until_next_notice", "column: days_since_nothing",
     "steps.0.trigger.column: 'days_since_nothing' is not a column of audience_send_test"),
    ("{{ product_name }}のお届け", "{{ product_nmae }}のお届け",
     "templates.mail.subject: {{ product_nmae }} is neither a column of audience_send_test"),
    ("audience: audience_send_test", "audience: orders_raw", "audience: 'orders_raw' is not a model of the marts layer"),
    ("name: mail_test", "name: other_name", "differs from the file name"),
    ("次回のお届けは{{ next_delivery_date | jdate }}", "{% if %}", "templates.mail.body line 2"),
    ("    subject: ", "    subjekt: ", "templates.mail.subjekt: unknown part"),
])
def test_a_bad_campaign_file_names_the_file_the_key_and_the_problem(world, old, new, expected):
    path = rewrite(world, "mail_test", old, new)
    with pytest.raises(CampaignFileError) as err:
        load(world)
    assert str(err.value).startswith(str(path)), err.value
    assert expected in str(err.value)


def test_a_channel_without_its_template_is_refused(world):
    rewrite(world, "mail_test", "channels: [mail]", "channels: [mail, postal_dm]")
    with pytest.raises(CampaignFileError, match=r"templates.postal_dm: missing"):
        load(world)


def test_not_yaml_is_named_with_its_line(world):
    (world["campaigns"] / "broken.yaml").write_text("name: broken\n  bad: [\n", "utf-8")
    with pytest.raises(CampaignFileError, match=r"broken.yaml: line \d+: not valid YAML"):
        load(world)


def test_overrides_switch_and_tune_a_campaign_without_copying_it(world):
    campaigns = load(world, overrides={"line_test": CampaignOverride(priority=99, holdout_share=0.5, live=True),
                                       "mail_test": CampaignOverride(enabled=False)})
    by_name = {c.name: c for c in campaigns}
    assert campaigns[0].name == "line_test" and by_name["line_test"].holdout_share == 0.5
    assert by_name["line_test"].live and not by_name["mail_test"].active_on(date(2026, 12, 1))
    with pytest.raises(CampaignFileError, match="overrides.nope: no campaign of that name"):
        load(world, overrides={"nope": CampaignOverride(live=True)})


def test_a_merchant_file_replaces_a_shipped_campaign_of_the_same_name(world):
    (world["playbook"] / "line_test.yaml").write_text(
        CAMPAIGN.format(name="line_test", channel="line", priority=10), "utf-8")
    # the merchant's folder (priority 50) wins over the shipped file (priority 10)
    assert {c.name: c.priority for c in load(world)}["line_test"] == 50


def test_rendering_refuses_an_empty_value_instead_of_printing_nothing():
    assert render("{{ full_name }}様 {{ d | jdate }} {{ v | yen }}",
                  {"full_name": "山田 花子", "d": date(2026, 1, 5), "v": 1980}) == "山田 花子様 2026年1月5日 1,980円"
    with pytest.raises(RenderError, match="full_name is empty"):
        render("{{ full_name }}様", {"full_name": None})
    with pytest.raises(RenderError):
        render("{{ missing }}", {})


def test_an_empty_value_may_be_tested_but_not_printed():
    source = "{% if product_name %}{{ product_name }}を{% endif %}お待ちしています"
    assert render(source, {"product_name": None}) == "お待ちしています"
    with pytest.raises(RenderError, match="product_name is empty"):
        render("{{ product_name }}", {"product_name": None})
