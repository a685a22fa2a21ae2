"""The outbox: where a channel without credentials (dry run) leaves what it would have sent.

One JSON file per message, `<outbox>/<channel>/<idempotency_key>.json`, created 0600 (messages
carry names and addresses) and written under a temporary name then renamed, so a reader never
sees half a message and re-writing the same key replaces it: a re-run of a dry-run day leaves
one file per message, as a real send would leave one delivery.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path

from .base import OutboundMessage

_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]")


class Outbox:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, channel: str, message: OutboundMessage) -> Path:
        return self.root / channel / f"{_SAFE_KEY.sub('_', message.idempotency_key)}.json"

    def write(self, channel: str, message: OutboundMessage) -> Path:
        path = self.path_for(channel, message)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = {"channel": channel, **asdict(message), "extra": dict(message.extra)}
        data = json.dumps(payload, ensure_ascii=False, indent=2, default=str).encode("utf-8")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def read(self, channel: str) -> list[dict]:
        folder = self.root / channel
        if not folder.is_dir():
            return []
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
