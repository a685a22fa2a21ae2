"""Fixtures for the connector tests (helpers live in connector_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    """Path of a fresh DuckDB warehouse file."""
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    d = tmp_path / "exports"
    d.mkdir()
    return d
