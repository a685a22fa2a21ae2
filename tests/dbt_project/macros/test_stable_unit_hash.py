"""The SQL holdout draw (macros/stable_unit_hash.sql) is the contact policy's, bit for bit.

The on-site offer mart draws its holdout in SQL; the campaign runner draws in Python
(orchestration/actions/contact_policy.py). The macro is rendered with plain Jinja and run in DuckDB
against ``_unit_hash`` for sample keys, Japanese and edge cases included.
"""

from pathlib import Path

import duckdb
import jinja2

from orchestration.actions.contact_policy import _unit_hash

MACRO = Path(__file__).resolve().parents[3] / "dbt_project" / "macros" / "stable_unit_hash.sql"
KEYS = ["csv:A", "csv:C7", "csv:1001", "shopify:9876543210", "csv:山田", "", "x" * 300]


def test_sql_hash_equals_python_for_sample_keys():
    template = MACRO.read_text(encoding="utf-8") + "{{ stable_unit_hash('onsite_pinpoint_offer', '?') }}"
    expression = jinja2.Environment().from_string(template).render().strip()
    con = duckdb.connect()
    for key in KEYS:
        got = con.execute(f"select {expression}", [key]).fetchone()[0]
        assert got == _unit_hash("onsite_pinpoint_offer", key), key
        assert 0.0 <= got < 1.0
