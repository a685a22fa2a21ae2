"""python -m connectors.shopify --warehouse FILE [--stream NAME ...]

Reads SHOPIFY_* variables from the environment (see README.md). Exit status 0 on success,
2 on an authentication/scope error, 1 on any other failure; the error is printed redacted.
"""

from __future__ import annotations

import argparse
import os
import sys

from connectors.http import AuthError, HttpError

from .sync import STREAMS, sync_stream


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m connectors.shopify", description=__doc__)
    ap.add_argument("--warehouse", required=True, help="DuckDB file")
    ap.add_argument("--stream", action="append", choices=STREAMS,
                    help="stream to sync (repeatable; default: all)")
    args = ap.parse_args(argv)
    log = lambda m: print(m, flush=True)  # noqa: E731
    try:
        for stream in args.stream or STREAMS:
            sync_stream(args.warehouse, stream, os.environ, log)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except (HttpError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
