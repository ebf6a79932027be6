"""``netlab up LAB --hosts INVENTORY``: the lab placed on the inventory's hosts and cut into one plan per host.

Today it shows the cut (``--dry-run``: placement, the links stitched between hosts, each host's plan, or all of it
as ``--json``); applying the parts on the hosts through ansible-runner is the next step of [multihost].
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from netlab.errors import InvalidInput
from netlab.model.plan import Plan
from netlab.multihost.partition import Partition

if TYPE_CHECKING:
    from netlab.api import Lab


def split(ref: str, inventory: str) -> Partition:
    """The lab ``ref`` cut over the hosts of ``inventory`` (both validated; every problem at once, exit 2)."""
    return _split(ref, inventory)[1]


def _split(ref: str, inventory: str) -> tuple[Lab, Partition, str]:
    """The lab, its cut, and a digest of the inventory's hosts (a part of another cut is another version)."""
    from netlab.api import Lab
    from netlab.multihost.inventory import load
    from netlab.multihost.partition import partition
    from netlab.stages.load import load_text

    hosts = load(Path(inventory))
    lab = Lab.load(ref)
    digest = hashlib.sha256(repr(hosts.hosts).encode()).hexdigest()
    return lab, partition(load_text(lab.text, str(lab.path)), lab.topology, lab.resolved, lab.plan(), hosts), digest


def up_part(args: argparse.Namespace) -> int:
    """``--on HOST``: bring up this host's part -- what the orchestration runs on each host. The host cuts the lab
    itself from the lab file and inventory it was given (the same pure stages, so the same cut): it trusts no
    plan handed to it."""
    lab, cut, digest = _split(args.lab, args.hosts)
    plans = dict(cut.plans)
    if args.on not in plans:
        names = [h for h, _p in cut.plans]
        raise InvalidInput(message=f"--on {args.on}: no part of lab {lab.name} is placed on it\n    hint: its "
                                   f"hosts: {', '.join(names)}")
    from netlab.pipeline import Part

    result = lab.up(recreate=args.recreate, part=Part(args.on, plans[args.on], digest))
    if args.json:
        print(json.dumps({"lab": result.lab, "host": args.on, "created": result.created,
                          "namespaces": result.namespaces, "actions": result.actions,
                          "seconds": round(result.seconds, 4)}))
    else:
        print(f"{result.message} (host {args.on})")
    return 0


def to_dict(cut: Partition) -> dict[str, object]:
    return {"lab": cut.lab, "placement": dict(cut.placement), "namespaces": dict(cut.hosts),
            "cuts": [{"a": c.a, "a_host": c.a_host, "b": c.b, "b_host": c.b_host, "vni": c.vni, "mtu": c.mtu}
                     for c in cut.cuts],
            "plans": {host: plan.to_dict() for host, plan in cut.plans}}


def up(args: argparse.Namespace, print_json: Callable[[object], None], print_plan: Callable[[Plan, str], None]) -> int:
    if args.on:
        return up_part(args)
    if not args.dry_run:
        raise InvalidInput(message="netlab up --hosts applies nothing yet: the orchestration through "
                                   "ansible-runner is still being built\n    hint: add --dry-run to see each "
                                   "host's part (placement, stitched links, plans)")
    cut = split(args.lab, args.hosts)
    if args.json:
        print_json(to_dict(cut))
        return 0
    hosts: dict[str, list[str]] = {}
    for node, host in cut.placement:
        hosts.setdefault(host, []).append(node)
    print(f"lab {cut.lab} over {len(hosts)} hosts (nothing applied):")
    for host, nodes in hosts.items():
        print(f"  {host}: {', '.join(nodes)}")
    if cut.cuts:
        print(f"links between hosts, stitched with VXLAN over the hosts' network ({len(cut.cuts)}):")
        for c in cut.cuts:
            print(f"  {c.a} ({c.a_host}) <-> {c.b} ({c.b_host}): vni {c.vni}, mtu {c.mtu}")
    for host, plan in cut.plans:
        print_plan(plan, f"plan for host {host}")
    return 0
