"""The ``shaping:`` section checked at validate: the interface exists, every value has its unit, what needs a
delay has one, and no interface is shaped twice (one root qdisc per interface)."""

from __future__ import annotations

import difflib
from collections.abc import Callable

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
        _check_at(col, (*path, "at"), shape.at, topo, interfaces)
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


def _check_at(col: Collector, path: PathKey, spec: str, topo: Topology, interfaces: dict[str, set[str]]) -> None:
    node, sep, iface = spec.partition(":")
    if not sep or not node or not iface:
        col.add(path, f"{spec!r} does not name an interface", "write node:interface, e.g. router:eth1")
        return
    if node not in topo.nodes:
        close = difflib.get_close_matches(node, list(topo.nodes), n=1)
        col.add(path, f"unknown node {node!r}", f"did you mean {close[0]!r}?" if close else
                f"nodes are: {', '.join(topo.nodes) or 'none'}")
        return
    known = interfaces.get(node, set())
    if iface not in known:
        close = difflib.get_close_matches(iface, sorted(known), n=1)
        col.add(path, f"node {node!r} has no interface {iface!r}",
                f"did you mean {close[0]!r}?" if close else f"its interfaces: {', '.join(sorted(known)) or 'none'}")
