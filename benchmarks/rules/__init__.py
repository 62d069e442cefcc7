"""Rule-cost and accuracy benchmark: agent-slo's rules beside Sloth-style, Pyrra (default and
performance mode) and naive exact rules, on one synthetic 30-day data set with exact ground
truth, backfilled into a fresh Prometheus TSDB. Run ``python -m benchmarks.rules --help``."""
