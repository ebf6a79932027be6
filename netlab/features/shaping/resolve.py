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


def qdisc_kind(shape: Shape) -> Literal["netem", "tbf", "fq", "fq_codel"]:
    """The root qdisc: netem when anything is impaired, tbf for a rate, else the asked ``qdisc`` (netem for a
    bare ``limit``)."""
    if any(getattr(shape, k) for k in IMPAIRMENTS):
        return "netem"
    if shape.rate:
        return "tbf"
    return shape.qdisc or "netem"


def resolve(shapes: tuple[Shape, ...], netns: Callable[[str], str], origin: Callable[[PathKey], str]) \
        -> tuple[SetQdisc, ...]:
    out = []
    for i, s in enumerate(shapes):
        node, _, ifname = s.at.partition(":")
        rate = parse_rate(s.rate) if s.rate else 0
        kind = qdisc_kind(s)
        queue: Literal["", "fq", "fq_codel"] = ""
        queue_limit, burst = 0, 0
        if kind == "netem":
            limit = s.limit or NETEM_LIMIT
        elif kind == "tbf":
            limit = (s.limit * 1500) if s.limit and not s.qdisc else max(2 * FRAME, rate // 8 // 10)
            burst = max(FRAME + 86, rate // 8 // 250)
            queue, queue_limit = s.qdisc or "", (s.limit or 0) if s.qdisc else 0
        else:  # fq or fq_codel alone
            limit = s.limit or 0
        out.append(SetQdisc(netns(node), node, ifname, kind, parse_time(s.delay) if s.delay else 0,
                            parse_time(s.jitter) if s.jitter else 0, parse_percent(s.loss) if s.loss else 0.0,
                            parse_percent(s.duplicate) if s.duplicate else 0.0,
                            parse_percent(s.reorder) if s.reorder else 0.0, rate, limit, burst,
                            origin(("shaping", i)), queue, queue_limit))
    return tuple(out)
