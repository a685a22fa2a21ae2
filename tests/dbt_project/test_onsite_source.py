"""The on-site offer events as dbt reads them are the table the raw writer lands.

The writer's RawStream (connectors/onsite_offers/events.py) and the dbt source declaration
(dbt_project/models/staging/onsite/_onsite__sources.yml) are written in two places, and the
declaration is also the shape of the empty relation dbt reads before the first events file is
loaded (macros/source_or_empty.sql): this fails as soon as one side changes without the other.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from connectors.onsite_offers.events import RAW_STREAM

SOURCES_YML = (Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "staging" / "onsite"
               / "_onsite__sources.yml")


def test_source_columns_and_types_are_the_raw_stream():
    doc = yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))
    (source,) = doc["sources"]
    (table,) = source["tables"]
    assert (source["schema"], table["name"]) == (f"raw_{RAW_STREAM.source}", RAW_STREAM.name)
    assert [(c["name"], c["data_type"]) for c in table["columns"]] == [
        (c.name, c.sql_type.lower()) for c in RAW_STREAM.columns]
