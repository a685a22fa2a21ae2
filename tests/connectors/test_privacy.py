"""Personal data is never world-readable: whatever a Teiki process creates is private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.privacy import private_umask

ROOT = Path(__file__).resolve().parents[2]

_CREATE = """
import os, sys
import connectors  # noqa: F401  (sets the umask on import)
import duckdb
out = sys.argv[1]
os.makedirs(os.path.join(out, "exports"))
con = duckdb.connect(os.path.join(out, "exports", "warehouse.duckdb"))
con.execute("create table customers as select 'Yamada' as name")
con.close()
with open(os.path.join(out, "exports", "call_list.csv"), "w") as f:
    f.write("name\\nYamada\\n")
"""


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


def _run(tmp_path: Path, umask: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TEIKI_UMASK"}
    if umask is not None:
        env["TEIKI_UMASK"] = umask
    # Start from a permissive parent umask, as a shell with 022 would.
    return subprocess.run(
        [sys.executable, "-c", f"import os; os.umask(0o022); exec({_CREATE!r})", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )


def test_files_and_folders_a_teiki_process_creates_are_private(tmp_path):
    result = _run(tmp_path, None)
    assert result.returncode == 0, result.stderr
    modes = _modes(tmp_path / "out")
    assert modes["exports"] == 0o700
    assert modes["exports/warehouse.duckdb"] == 0o600
    assert modes["exports/call_list.csv"] == 0o600


def test_group_read_umask_is_allowed(tmp_path):
    result = _run(tmp_path, "027")
    assert result.returncode == 0, result.stderr
    modes = _modes(tmp_path / "out")
    assert modes["exports"] == 0o750
    assert modes["exports/warehouse.duckdb"] == 0o640


def test_world_readable_umask_is_refused(tmp_path):
    result = _run(tmp_path, "022")
    assert result.returncode != 0
    assert "TEIKI_UMASK 022 would let other users read personal data" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["abc", "999"])
def test_malformed_umask_names_the_variable(text):
    with pytest.raises(ValueError, match="TEIKI_UMASK"):
        private_umask({"TEIKI_UMASK": text})
