"""Outbound channels: how an action reaches people (files, mail, LINE, ...). No Dagster here."""
