"""``netlab tc LAB NODE:IF KEY=VALUE...``: turn a shaping knob on a live lab -- what an exercise asks a student
to do, and what a teacher does in front of a class while a flow runs.

The settings are the topology's ``shaping:`` keys with the same units and checks (``delay=20ms loss=1%
rate=10mbit limit=100``); they *replace* the interface's root qdisc as a whole, as a ``shaping:`` entry would
build it. No settings: show the qdisc with its counters; ``--clear``: remove it. The interface must be one of
the lab's nodes, as recorded by ``up``: the command never reaches outside the lab's namespaces. The change is
the kernel's only: ``netlab down``/``up`` (and ``netlab exercise reset``) rebuild what the topology says.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from typing import Any

Verb = Callable[..., argparse.ArgumentParser]
KEYS = ("delay", "jitter", "loss", "duplicate", "reorder", "rate", "limit", "qdisc")
SETTING = re.compile(r"([a-z]+)=(\S+)")


def register(verb: Verb) -> None:
    p = verb("tc", _cmd, "change a link's shaping on a live lab: delay, loss, rate, queue (netem/tbf)",
             "Replace the root qdisc of NODE:IF in lab LAB with these settings -- the keys of a topology's "
             "`shaping:` entry, with units: delay=20ms jitter=2ms loss=1% duplicate=0.5% reorder=5% rate=10mbit "
             "limit=100 (packets) qdisc=fq_codel (the queue of a rate's bottleneck, or alone: fq, fq_codel). netem "
             "when anything is impaired, tbf for a rate, as in the topology. "
             "Without settings: show the qdisc and its counters (tc -s qdisc show). --clear removes it. "
             "`netlab up --recreate` or `netlab exercise reset` rebuild what the topology says.")
    p.add_argument("lab", metavar="LAB", help="a lab that is up")
    p.add_argument("at", metavar="NODE:IF", help="the interface whose outgoing packets are shaped")
    p.add_argument("settings", nargs="*", metavar="KEY=VALUE", help=f"keys: {', '.join(KEYS)}")
    p.add_argument("--clear", action="store_true", help="remove the root qdisc (the kernel's default again)")
    p.add_argument("--json", action="store_true", help="print {lab, at, qdisc} as JSON")


def _settings(items: list[str]) -> tuple[dict[str, object], list[str]]:
    """The well-formed settings, and what is wrong with the others."""
    out: dict[str, object] = {}
    problems = []
    for item in items:
        m = SETTING.fullmatch(item)
        if m is None or m.group(1) not in KEYS:
            problems.append(f"{item!r}: not KEY=VALUE with a key of {', '.join(KEYS)}")
            continue
        key, value = m.groups()
        if key in out:
            problems.append(f"{key} given twice")
        if key == "limit":
            if not value.isdigit() or not 1 <= int(value) <= 1_000_000:
                problems.append(f"limit={value}: a number of packets, 1 to 1000000")
                continue
            out[key] = int(value)
        else:
            out[key] = value
    return out, problems


def _shape(at: str, items: list[str]) -> Any:
    """The settings as a checked :class:`Shape`: the topology's checks, messages and units, all at once."""
    from pydantic import ValidationError

    from netlab.errors import InvalidInput
    from netlab.features.shaping.checks import check_values
    from netlab.features.shaping.model import Shape

    settings, problems = _settings(items)
    try:
        shape = Shape(at=at, **settings)
    except ValidationError as exc:
        problems += [f"{'.'.join(map(str, e['loc']))}={e.get('input')}: {e['msg']}" for e in exc.errors()]
        shape = None
    if shape is not None:
        def report(path: tuple[object, ...], message: str, hint: str | None) -> None:
            key = f"{path[-1]}: " if len(path) > 1 and isinstance(path[-1], str) else ""
            problems.append(f"{key}{message}" + (f" ({hint})" if hint else ""))

        check_values(shape, ("tc",), report)
    if problems:
        raise InvalidInput(message="netlab tc: " + "\n    ".join(problems))
    return shape


def _cmd(args: argparse.Namespace) -> int:
    from netlab.api import require_root, state_of
    from netlab.cli.common import lab_name
    from netlab.errors import ApplyError, InvalidInput
    from netlab.features.shaping import kernel
    from netlab.features.shaping.resolve import resolve
    from netlab.probes.context import LabView
    from netlab.probes.nsfork import ChildFailed, ChildTimeout, call_in, exec_in

    lab = lab_name(args.lab)
    if args.clear and args.settings:
        raise InvalidInput(message="netlab tc: --clear or settings, not both")
    shape = _shape(args.at, args.settings) if args.settings else None  # input errors before root is asked for
    require_root()
    view = LabView.from_resolved(state_of(lab).resolved)
    node, _, ifname = args.at.partition(":")
    if node not in view.nodes:
        raise InvalidInput(message=f"lab {lab} has no node {node!r}\n    hint: its nodes: {', '.join(view.nodes)}")
    names = [name for name, _ in view.nodes[node].interfaces if name != "lo"]
    if ifname not in names:
        raise InvalidInput(message=f"node {node} of lab {lab} has no interface {ifname!r}\n    hint: its "
                                   f"interfaces: {', '.join(names)}")
    netns = view.netns(node)
    if shape is not None or args.clear:
        action = resolve((shape,), lambda _n: netns, lambda _p: f"netlab tc {args.at}")[0] if shape else None
        try:
            error = call_in(netns, f"netlab tc in {node}", lambda _c: kernel.change(ifname, action), timeout=30)
        except (ChildFailed, ChildTimeout) as exc:
            raise ApplyError(f"netlab tc {args.at}: {exc}") from None
        if error:
            raise ApplyError(f"netlab tc {args.at}: {error}")
    shown = exec_in(netns, ["tc", "-s", "qdisc", "show", "dev", ifname], timeout=10).output.strip()
    if args.json:
        print(json.dumps({"lab": lab, "at": args.at, "qdisc": shown}))
    else:
        what = "cleared" if args.clear else ("now" if shape else "has")
        sys.stdout.write(f"{args.at} of lab {lab} {what}:\n{shown}\n")
    return 0
