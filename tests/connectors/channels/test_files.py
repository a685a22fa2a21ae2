"""Private files written whole: what a killed writer leaves (its temporary file, with the personal
data it held) is gone after the next run's first write into the folder; a write under way keeps its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from connectors.channels.files import write_private_file


def test_the_next_write_removes_what_a_killed_writer_left_in_the_folder(tmp_path):
    folder = tmp_path / "outbox" / "mail" / "winback"
    # SIGKILL a real writer after its temporary file is written, before the rename.
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from connectors.channels import files
            def stop_here(*args):   # the kill point: the file is complete, not yet renamed
                print("written", flush=True)
                time.sleep(600)
            files.os.replace = stop_here
            files.write_private_file(Path({str(folder / "a.eml")!r}), b"To: someone@example.jp")
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "written"
    finally:
        child.kill()  # SIGKILL: no finally, no atexit in the child
        child.wait(timeout=30)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        left = folder / f".a.eml.{child.pid}.tmp"
        under_way = folder / f".c.eml.{running.pid}.tmp"
        under_way.write_bytes(b"partial")
        assert left.exists()

        # another message of the folder: the first write of this process sweeps it
        write_private_file(folder / "b.eml", b"To: other@example.jp")

        assert sorted(p.name for p in folder.iterdir()) == sorted(["b.eml", under_way.name])
    finally:
        running.kill()
        running.wait(timeout=30)
    assert Path(folder / "b.eml").read_bytes() == b"To: other@example.jp"
