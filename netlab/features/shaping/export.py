"""``netlab export``: a root qdisc as the ``tc`` command a learner would type."""

from __future__ import annotations

from netlab.model.plan import SetQdisc


def commands(a: SetQdisc) -> list[str]:
    head = f"ip netns exec {a.netns} tc qdisc add dev {a.ifname} root"
    if a.kind == "tbf" and a.queue:
        child = f"ip netns exec {a.netns} tc qdisc add dev {a.ifname} parent 1:1 {a.queue}" + (
            f" limit {a.queue_limit}" if a.queue_limit else "")
        return [f"{head} handle 1: tbf rate {a.rate_bps}bit burst {a.burst} limit {a.limit}  # {a.origin}",
                f"{child}  # the bottleneck's queue"]
    if a.kind == "tbf":
        return [f"{head} tbf rate {a.rate_bps}bit burst {a.burst} limit {a.limit}  # {a.origin}"]
    if a.kind in ("fq", "fq_codel"):
        return [f"{head} {a.kind}" + (f" limit {a.limit}" if a.limit else "") + f"  # {a.origin}"]
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
