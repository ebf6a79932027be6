"""The ``shaping:`` section checked at validate: the interface exists, every value has its unit, what needs a
delay has one, an AQM is asked for only where it can hold the queue, and no interface is shaped twice (one
root qdisc per interface). ``netlab tc`` runs the same value checks on its KEY=VALUE settings."""

from __future__ import annotations

from collections.abc import Callable

from netlab.core.checks import check_interface_ref
from netlab.core.diagnostics import Collector, PathKey
from netlab.features.shaping.model import Shape
from netlab.features.shaping.resolve import IMPAIRMENTS
from netlab.features.shaping.units import UnitError, parse_percent, parse_rate, parse_time
from netlab.model.topology import Topology

PARSERS: dict[str, Callable[[object], object]] = {
    "delay": parse_time, "jitter": parse_time, "loss": parse_percent, "duplicate": parse_percent,
    "reorder": parse_percent, "rate": parse_rate}
Report = Callable[[PathKey, str, str | None], None]
"""report(data path, message, hint): a Collector's ``add``, or ``netlab tc``'s list of problems."""


def check_values(shape: Shape, path: PathKey, report: Report) -> None:
    """Units, what needs a delay, where fq/fq_codel can hold a queue, and that something is set at all."""
    for key, parse in PARSERS.items():
        value = getattr(shape, key)
        if value is None:
            continue
        try:
            parse(value)
        except UnitError as exc:
            report((*path, key), str(exc), None)
    for key in ("jitter", "reorder"):
        if getattr(shape, key) is not None and shape.delay is None:
            report((*path, key), f"{key} needs a delay", "netem varies or reorders delayed packets: add "
                   "`delay:` to this entry")
    if shape.qdisc is not None and any(getattr(shape, k) is not None for k in IMPAIRMENTS):
        report((*path, "qdisc"), f"{shape.qdisc} cannot hold the queue of a netem link",
               "netem's own queue is the one that fills: put the delay on the link's other end (it delays the "
               "ACKs just the same) and keep rate + qdisc here")
    if shape.qdisc == "fq" and shape.limit is not None:
        report((*path, "limit"), "fq's limits are per flow: netlab leaves them at the kernel's defaults",
               "remove `limit`, or use fq_codel, whose `limit` is its queue in packets")
    if all(getattr(shape, k) is None for k in (*PARSERS, "limit", "qdisc")):
        report(path, f"shaping of {shape.at} sets nothing", "give delay, jitter, loss, duplicate, reorder, rate, "
               "limit or qdisc")


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
        check_values(shape, path, col.add)
