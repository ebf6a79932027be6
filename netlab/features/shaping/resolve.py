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
from netlab.features.shaping.model import ResolvedShape, Shape
from netlab.features.shaping.units import parse_percent, parse_rate, parse_time

FRAME = 1514
NETEM_LIMIT = 1000


def resolve(shapes: tuple[Shape, ...], netns: Callable[[str], str], origin: Callable[[PathKey], str]) \
        -> tuple[ResolvedShape, ...]:
    out = []
    for i, s in enumerate(shapes):
        node, _, ifname = s.at.partition(":")
        delay = parse_time(s.delay) if s.delay else 0
        jitter = parse_time(s.jitter) if s.jitter else 0
        loss = parse_percent(s.loss) if s.loss else 0.0
        dup = parse_percent(s.duplicate) if s.duplicate else 0.0
        reorder = parse_percent(s.reorder) if s.reorder else 0.0
        rate = parse_rate(s.rate) if s.rate else 0
        impaired = bool(delay or jitter or loss or dup or reorder) or not rate
        kind: Literal["netem", "tbf"]
        if impaired:
            kind, limit, burst = "netem", s.limit or NETEM_LIMIT, 0
        else:
            kind = "tbf"
            limit = (s.limit * 1500) if s.limit else max(2 * FRAME, rate // 8 // 10)
            burst = max(FRAME + 86, rate // 8 // 250)
        out.append(ResolvedShape(node, netns(node), ifname, kind, delay, jitter, loss, dup, reorder, rate, limit,
                                 burst, origin(("shaping", i))))
    return tuple(out)
