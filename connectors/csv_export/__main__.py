"""Command line: check or load a directory of cart CSV exports.

    python -m connectors.csv_export check EXPORT_DIR --profile demo_merchant [--lang ja|en|both]
    python -m connectors.csv_export load  EXPORT_DIR --profile demo_merchant --warehouse w.duckdb
"""

from __future__ import annotations

import argparse
import sys

from .check import check_export
from .errors import CsvExportError
from .loader import load_export_dir, stream_files
from .profile import load_profile


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m connectors.csv_export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["check", "load"])
    ap.add_argument("export_dir")
    ap.add_argument("--profile", required=True, help="profile name or path")
    ap.add_argument("--warehouse", help="DuckDB file (load)")
    ap.add_argument("--source", default="csv", help="source instance name -> raw_<source>")
    ap.add_argument("--stream", action="append", help="only these streams (repeatable)")
    ap.add_argument("--lang", choices=["ja", "en", "both"], default="both",
                    help="language of the check report (default: both)")
    args = ap.parse_args(argv)
    try:
        profile = load_profile(args.profile)
        if args.command == "check":
            report = check_export(args.export_dir, profile, args.stream)
            print(report.text(args.lang))
            return 0 if report.ok else 1
        if not args.warehouse:
            ap.error("load needs --warehouse")
        results = load_export_dir(args.warehouse, args.export_dir, profile,
                                  source=args.source, streams=args.stream, raise_on_error=False)
        for r in results:
            print(f"{r.status:<8} {r.stream:<20} {r.detail}: read {r.rows_read}, inserted "
                  f"{r.rows_inserted}, updated {r.rows_updated}, unchanged {r.rows_unchanged}"
                  + (f"\n{r.error}" if r.error else ""))
        return 1 if any(r.status == "failed" for r in results) else 0
    except CsvExportError as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
