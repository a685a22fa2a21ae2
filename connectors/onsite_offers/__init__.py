"""On-site pinpoint offers (ヒキアゲール): the eligibility file, the decision service, its events.

Plain Python; nothing here imports Dagster. The protocol is in README.md next to this file.
"""
