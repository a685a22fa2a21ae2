"""README "What Teiki guarantees" is backed by tests: every line of the section names the test
file that holds it, and each file it names exists and holds tests. A guarantee whose test was
moved or deleted fails here instead of staying in the README unbacked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## What Teiki guarantees")
    return text[start:text.index("\n## ", start + 1)]


def _cited(section: str) -> set[Path]:
    return {ROOT / name for name in re.findall(r"`(tests/[\w/]*(?:\.py|/))`", section)}


def test_every_guarantee_names_its_test():
    bullets = re.split(r"\n- ", _section())[1:]
    assert len(bullets) >= 10
    unbacked = [b.split("\n")[0] for b in bullets if not re.search(r"`tests/[\w/]*(\.py|/)`", b)]
    assert not unbacked, f"guarantees without a test named: {unbacked}"


def test_every_cited_test_exists_and_holds_tests():
    cited = _cited(_section())
    assert len(cited) >= 10
    missing = sorted(str(p.relative_to(ROOT)) for p in cited if not p.exists())
    assert not missing, f"the README cites tests that are not there: {missing}"
    for path in cited:
        files = [path] if path.is_file() else sorted(path.rglob("test_*.py"))
        assert any(re.search(r"^def test_", f.read_text(encoding="utf-8"), re.M) for f in files), path
