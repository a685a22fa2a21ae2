"""What the data team sees without opening the UI: alerts on failed runs, a digest of warnings,
and freshness checks on the exports and on what BI reads."""
