"""Files that hold personal data are private from the moment they are created.

The warehouse (`marts.customers` holds names, kana, mail, phone and LINE ids), the BI snapshot,
the cart exports, call lists and the outbox are all written by processes that import Teiki's
packages, and so is every dbt subprocess they start (a child inherits its parent's umask). Setting
the process umask once, on import, makes every file they create 0600 and every folder 0700,
including files DuckDB creates itself (the database and its WAL), where a chmod after the fact
would leave a window in which the file is world-readable.

`TEIKI_UMASK` (octal, default `077`) changes it; `027` gives a documented group (e.g. the BI
tools' service account) read access: files 0640, folders 0750. A wider umask is refused: other
users must never read personal data.
"""

from __future__ import annotations

import os

DEFAULT_UMASK = 0o077
_MINIMUM_BITS = 0o007  # "others" may never read, write or enter


def private_umask(env: "os._Environ[str] | dict[str, str] | None" = None) -> int:
    env = os.environ if env is None else env
    text = (env.get("TEIKI_UMASK") or "").strip()
    if not text:
        return DEFAULT_UMASK
    try:
        value = int(text, 8)
    except ValueError:
        raise ValueError(f"TEIKI_UMASK must be octal such as 077 or 027, not {text!r}") from None
    if value & _MINIMUM_BITS != _MINIMUM_BITS or not 0 <= value <= 0o777:
        raise ValueError(f"TEIKI_UMASK {text} would let other users read personal data; use 077 or 027")
    return value


def apply_private_umask() -> int:
    """Set the process umask (idempotent); returns the umask in force."""
    value = private_umask()
    os.umask(value)
    return value
