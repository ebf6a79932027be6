"""Shapes in the kernel's units, and the choice of qdisc: netem for any impairment, tbf for a plain bottleneck.

Why not always netem (it has a rate too): netem is the module most kernels leave out (ours among them), while a
bottleneck queue -- the thing that makes Cubic's RTT grow and BBR's not -- needs only tbf, which is everywhere.
tbf's queue is in bytes: ``limit`` packets of 1500 bytes; without ``limit``, 100 ms at the rate. Its bucket holds
what the rate sends in 4 ms, at least one full frame (a smaller bucket could never send a 1514-byte frame).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from netlab.core.diagnostics import PathKey
from netlab.features.shaping.model import Shape
from netlab.features.shaping.units import parse_percent, parse_rate, parse_time
from netlab.model.plan import SetQdisc

FRAME = 1514
NETEM_LIMIT = 1000
IMPAIRMENTS = ("delay", "jitter", "loss", "duplicate", "reorder")


def qdisc_kind(shape: Shape) -> Literal["netem", "tbf"]:
    """netem when anything is impaired (or there is no rate to hold to), else tbf."""
    return "netem" if any(getattr(shape, k) for k in IMPAIRMENTS) or not shape.rate else "tbf"


def resolve(shapes: tuple[Shape, ...], netns: Callable[[str], str], origin: Callable[[PathKey], str]) \
        -> tuple[SetQdisc, ...]:
    out = []
    for i, s in enumerate(shapes):
        node, _, ifname = s.at.partition(":")
        rate = parse_rate(s.rate) if s.rate else 0
        kind = qdisc_kind(s)
        if kind == "netem":
            limit, burst = s.limit or NETEM_LIMIT, 0
        else:
            limit = (s.limit * 1500) if s.limit else max(2 * FRAME, rate // 8 // 10)
            burst = max(FRAME + 86, rate // 8 // 250)
        out.append(SetQdisc(netns(node), node, ifname, kind, parse_time(s.delay) if s.delay else 0,
                            parse_time(s.jitter) if s.jitter else 0, parse_percent(s.loss) if s.loss else 0.0,
                            parse_percent(s.duplicate) if s.duplicate else 0.0,
                            parse_percent(s.reorder) if s.reorder else 0.0, rate, limit, burst,
                            origin(("shaping", i))))
    return tuple(out)
