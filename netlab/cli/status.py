"""``netlab status``: the labs that are up, read from their recorded state and from the kernel now.

Everything here reads typed fields (:class:`netlab.status.LabStatus`, built from the typed state), so a
field renamed in the resolved lab or in the kernel read-back is a mypy error here, not a ``KeyError`` in
front of a user; ``--json`` is ``to_data`` of the same objects.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from netlab.cli.common import console as _console
from netlab.cli.common import lab_name, print_json

if TYPE_CHECKING:
    from netlab.status import LabStatus, NodeStatus

__all__ = ["cmd_status"]


def cmd_status(args: argparse.Namespace) -> int:
    from netlab.api import live_labs, require_root, state_of
    from netlab.status import lab_status

    require_root()  # the state is root's and the kernel is read from inside the namespaces
    if args.lab:
        from netlab.multihost.orchestrate import recorded

        if recorded(lab_name(args.lab)) is not None:  # spread over hosts from here: each host's part
            from netlab.cli.multihost import status_everywhere

            return status_everywhere(lab_name(args.lab), args.json)
    states = [state_of(lab_name(args.lab))] if args.lab else live_labs()
    if not args.lab:
        _warn_unreadable()
    data = [lab_status(s) for s in states]
    if args.json:
        print_json([d.to_json() for d in data] if not args.lab else data[0].to_json())
        return 0
    console = _console()
    if not data:
        console.print("no labs are up  (netlab list shows the catalog; netlab up LAB brings one up)")
        return 0
    for lab in data:
        part = f", its part on host {lab.host}" if lab.host else ""
        console.print(f"[bold]lab {lab.lab}[/]  ({lab.status}{part}, from {lab.source})")
        if args.lab and lab.description:
            console.print(lab.description, markup=False)
        console.print(_interfaces_table(lab.nodes))
        _print_features(console, lab)
        if args.lab:
            _print_derived(console, lab)
    return 0


def _warn_unreadable() -> None:
    """A lab whose state cannot be read is not listed as up, but it may be (its state was written by another
    netlab version, say): say so on stderr, rather than let ``no labs are up`` hide it."""
    from netlab.stages.record import StateStore

    for lab in StateStore().torn():
        sys.stderr.write(f"note: lab {lab} has a state file this netlab cannot read; `netlab status {lab}` "
                         "says why\n")


def _interfaces_table(nodes: tuple[NodeStatus, ...]) -> Any:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("node", "namespace", "interface", "state", "mac", "addresses"):
        table.add_column(col)
    for node in nodes:
        label = node.name if node.kind == "node" else f"{node.name} (LAN)"
        if not node.present:
            table.add_row(label, node.netns, "-", "MISSING", "", "")
            continue
        first = True
        for iface in node.interfaces:
            if iface.name == "lo" and not [a for a in iface.addresses if not a.startswith(("127.", "::1"))]:
                continue
            if iface.noise:
                continue  # gre0, tunl0, ...: the kernel's per-namespace fallback devices, unused
            name = iface.name + (f" ({iface.detail})" if iface.detail else "")
            table.add_row(label if first else "", node.netns if first else "", name,
                          iface.state, iface.mac, ", ".join(iface.addresses))
            first = False
        if first:
            table.add_row(label, node.netns, "", "", "", "")
    return table


def _print_features(console: Any, lab: LabStatus) -> None:
    """What each feature reads back from the kernel (IPVS tables, iptables counters), node by node."""
    for parts in lab.features.values():
        for part in parts:
            console.print(f"[bold]{part.title}[/] (read back from the kernel)")
            console.print(part.text, markup=False)


def _print_derived(console: Any, lab: LabStatus) -> None:
    """Settings netlab derived from the nodes' roles, each with why (and whether the topology overrode it)."""
    if not lab.derived:
        return
    console.print("[bold]derived settings[/] (from the roles the lab gives its nodes)")
    for d in lab.derived:
        what = {"sysctl": f"{d.target}={d.value}", "address": f"address {d.target} on {d.value}",
                "route": f"route {d.target} via {d.value}", "link-up": f"{d.target} up"}[d.kind]
        state = "  [yellow](overridden by the topology)[/]" if d.overridden else ""
        console.print(f"  {d.node}: [bold]{what}[/]{state}")
        console.print(f"      {d.reason}", markup=False)
