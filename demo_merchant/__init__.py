"""The demo merchant: a deterministic, seeded simulation of a fictional Japanese D2C
skincare/health brand (定期通販), written as its cart's CSV exports.

- ``demo_merchant.generate.generate(out_dir, customers=10_000, seed=42, as_of=None,
  params=DEFAULT_PARAMS) -> GenerationSummary``
- ``demo_merchant.params``: ``BehaviourParams`` / ``DEFAULT_PARAMS`` (every behaviour knob) and
  ``CATALOGUE`` (the products)
- ``python -m demo_merchant --out DIR [--customers N] [--seed S] [--as-of YYYY-MM-DD]``
"""
