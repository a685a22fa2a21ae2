import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from onsite_fixtures import start_service  # noqa: E402


@pytest.fixture
def service(tmp_path):
    svc = start_service(tmp_path)
    yield svc
    svc.stop()
