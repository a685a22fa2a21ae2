"""Build the Evidence dashboard (dashboard/) from the BI snapshot in force: `make dashboard`.

The project is copied into <TEIKI data dir>/dashboard/project and built there, because Evidence
keeps a copy of every query result (mart data, customer IDs included) in its working folder and
chmods those files 0644: the data dir's own 0700 folder keeps them private. The static site lands
in <data dir>/dashboard/project/build (serve it on 127.0.0.1, e.g. `python -m http.server -d ...`).

npm installs the project's pinned packages once (again only when package-lock.json changes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestration.settings import load_settings  # noqa: E402

PROJECT = REPO / "dashboard"
# What the build needs from dashboard/ (never node_modules or a previous build).
COPIED = ("package.json", "package-lock.json", ".npmrc", "evidence.config.yaml",
          "evidence.settings.json", "empty-tables.cjs", "sources", "pages")


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=cwd, env=env)
    if done.returncode != 0:
        raise SystemExit(f"dashboard: `{' '.join(cmd)}` failed (exit {done.returncode}) in {cwd}")


def build(data_dir: Path, snapshot: Path) -> Path:
    """Build the site for `snapshot` under `data_dir`/dashboard; return the build folder."""
    if not snapshot.is_file():
        raise SystemExit(f"dashboard: BI snapshot {snapshot} not found: run `make demo` or the "
                         "daily pipeline first (or set TEIKI_BI_SNAPSHOT)")
    if shutil.which("npx") is None:
        raise SystemExit("dashboard: node/npx not found: run scripts/ensure_node.sh")
    work = data_dir / "dashboard"
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o700)
    project = work / "project"
    project.mkdir(exist_ok=True)
    for name in COPIED:
        src, dst = PROJECT / name, project / name
        if dst.is_dir():
            shutil.rmtree(dst)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    # Results of an earlier snapshot must not survive into this build.
    for stale in (".evidence", "build", ".svelte-kit"):
        shutil.rmtree(project / stale, ignore_errors=True)

    env = {**os.environ, "EVIDENCE_TELEMETRY_DISABLED": "true"}
    # Evidence joins the filename to the connection's folder, so it must be relative to it.
    env["EVIDENCE_SOURCE__teiki__filename"] = os.path.relpath(snapshot, project / "sources" / "teiki")

    lock = (project / "package-lock.json").read_bytes()
    stamp = project / "node_modules" / ".teiki-lock"
    if not stamp.is_file() or stamp.read_bytes() != lock:
        _run(["npm", "ci", "--no-audit", "--no-fund"], project, env)
        stamp.write_bytes(lock)
    _run(["npx", "evidence", "sources"], project, env)
    _run(["node", "empty-tables.cjs", "."], project, env)
    _run(["npx", "evidence", "build"], project, env)
    out = project / "build"
    if not (out / "index.html").is_file():
        raise SystemExit(f"dashboard: Evidence reported success but wrote no {out / 'index.html'}")
    return out


def main() -> None:
    settings = load_settings()
    out = build(settings.data_dir, settings.bi_snapshot)
    print(f"dashboard built: {out}\n"
          f"serve it locally: python -m http.server --bind 127.0.0.1 8080 -d {out}")


if __name__ == "__main__":
    main()
