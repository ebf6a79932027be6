"""Link shaping: netem delay/jitter/loss/duplication/reordering and a rate-limited bottleneck queue, per interface."""
