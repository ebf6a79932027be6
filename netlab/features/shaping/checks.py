"""The ``shaping:`` section checked at validate: the interface exists, every value has its unit, what needs a
delay has one, and no interface is shaped twice (one root qdisc per interface)."""

from __future__ import annotations

from collections.abc import Callable

from netlab.core.checks import check_interface_ref
from netlab.core.diagnostics import Collector, PathKey
from netlab.features.shaping.model import Shape
from netlab.features.shaping.units import UnitError, parse_percent, parse_rate, parse_time
from netlab.model.topology import Topology

PARSERS: dict[str, Callable[[object], object]] = {
    "delay": parse_time, "jitter": parse_time, "loss": parse_percent, "duplicate": parse_percent,
    "reorder": parse_percent, "rate": parse_rate}


def check(topo: Topology, shapes: tuple[Shape | None, ...], interfaces: dict[str, set[str]], col: Collector) -> None:
    seen: dict[str, int] = {}
    for i, shape in enumerate(shapes):
        if shape is None:
            continue
        path: PathKey = ("shaping", i)
        check_interface_ref(col, (*path, "at"), shape.at, topo.nodes, interfaces)
        if shape.at in seen:
            col.add((*path, "at"), f"{shape.at} is shaped twice (also at shaping[{seen[shape.at]}])",
                    "an interface has one root qdisc: put everything for it in one entry")
        seen.setdefault(shape.at, i)
        for key, parse in PARSERS.items():
            value = getattr(shape, key)
            if value is None:
                continue
            try:
                parse(value)
            except UnitError as exc:
                col.add((*path, key), str(exc))
        for key in ("jitter", "reorder"):
            if getattr(shape, key) is not None and shape.delay is None:
                col.add((*path, key), f"{key} needs a delay", "netem varies or reorders delayed packets: add "
                        "`delay:` to this entry")
        if all(getattr(shape, k) is None for k in (*PARSERS, "limit")):
            col.add(path, f"shaping of {shape.at} sets nothing", "give delay, jitter, loss, duplicate, reorder, "
                    "rate or limit")

