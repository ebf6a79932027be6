"""``netlab export``: a root qdisc as the ``tc`` command a learner would type."""

from __future__ import annotations

from netlab.model.plan import SetQdisc


def commands(a: SetQdisc) -> list[str]:
    head = f"ip netns exec {a.netns} tc qdisc add dev {a.ifname} root"
    if a.kind == "tbf":
        return [f"{head} tbf rate {a.rate_bps}bit burst {a.burst} limit {a.limit}  # {a.origin}"]
    parts = [f"limit {a.limit}"]
    if a.delay_us:
        parts.append(f"delay {a.delay_us}us" + (f" {a.jitter_us}us" if a.jitter_us else ""))
    if a.loss:
        parts.append(f"loss {a.loss:g}%")
    if a.duplicate:
        parts.append(f"duplicate {a.duplicate:g}%")
    if a.reorder:
        parts.append(f"reorder {a.reorder:g}%")
    if a.rate_bps:
        parts.append(f"rate {a.rate_bps}bit")
    return [f"{head} netem {' '.join(parts)}  # {a.origin}"]
