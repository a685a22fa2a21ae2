"""Fixtures for the demo-merchant generator tests: one small world per session, read back from
its files through the profile (``dm_analysis.Data``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dm_analysis import AS_OF, CUSTOMERS, SEED, Data

from demo_merchant.generate import GenerationSummary, generate


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("demo_merchant_world")
    summary = generate(out, customers=CUSTOMERS, seed=SEED, as_of=AS_OF)
    return out, summary


@pytest.fixture(scope="session")
def world(world_dir: tuple[Path, GenerationSummary]) -> Data:
    return Data.load(world_dir[0], AS_OF)
