"""CLI: ``python -m demo_merchant --out DIR [--customers N] [--seed S] [--as-of YYYY-MM-DD]
[--history-start YYYY-MM-DD]``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from demo_merchant.generate import generate


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo_merchant",
        description="Generate the demo merchant's cart exports (cp932, CRLF, Japanese headers).",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--customers", type=int, default=10_000,
                        help="number of customers (default 10000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--as-of", type=_date, default=None,
                        help="last day of the history, YYYY-MM-DD (default: today in Japan)")
    parser.add_argument("--history-start", type=_date, default=None,
                        help="the world's first day, YYYY-MM-DD: the same world seen on --as-of "
                             "(default: history_days before --as-of, a new world)")
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be at least 1")
    summary = generate(args.out, customers=args.customers, seed=args.seed, as_of=args.as_of,
                       history_start=args.history_start)
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
