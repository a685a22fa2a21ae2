"""CSV connector for Japanese cart exports (定期通販): profile-driven, idempotent raw loads.

    from connectors.csv_export import load_export_dir
    results = load_export_dir("warehouse.duckdb", "exports/2026-11-23", "demo_merchant")

See README.md in this folder for the profile format and how to write one for another cart.
"""

from .errors import CsvExportError, Problem, ProfileError
from .loader import (
    create_tables,
    load_export_dir,
    load_file,
    raw_stream,
    stream_files,
    stream_for_file,
)
from .profile import ColumnSpec, Profile, StreamSpec, available_profiles, load_profile
from .reader import ParsedFile, read_export

__all__ = [
    "ColumnSpec",
    "CsvExportError",
    "ParsedFile",
    "Problem",
    "Profile",
    "ProfileError",
    "StreamSpec",
    "available_profiles",
    "create_tables",
    "load_export_dir",
    "load_file",
    "load_profile",
    "raw_stream",
    "read_export",
    "stream_files",
    "stream_for_file",
]
