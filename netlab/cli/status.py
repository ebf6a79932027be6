"""``netlab status``: the labs that are up, read from their recorded state and from the kernel now.

Everything here reads typed fields (:class:`netlab.inspect.LabStatus`, built from the typed state), so a
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
    from netlab.inspect import IptablesStatus, LabStatus, NodeStatus

__all__ = ["cmd_status"]


def cmd_status(args: argparse.Namespace) -> int:
    from netlab.api import live_labs, require_root, state_of
    from netlab.core.codec import to_data
    from netlab.inspect import lab_status

    require_root()  # the state is root's and the kernel is read from inside the namespaces
    states = [state_of(lab_name(args.lab))] if args.lab else live_labs()
    if not args.lab:
        _warn_unreadable()
    data = [lab_status(s) for s in states]
    if args.json:
        print_json(to_data(data if not args.lab else data[0]))
        return 0
    console = _console()
    if not data:
        console.print("no labs are up  (netlab list shows the catalog; netlab up LAB brings one up)")
        return 0
    for lab in data:
        console.print(f"[bold]lab {lab.lab}[/]  ({lab.status}, from {lab.source})")
        if args.lab and lab.description:
            console.print(lab.description, markup=False)
        console.print(_interfaces_table(lab.nodes))
        _print_ipvs(console, lab)
        _print_iptables(console, lab)
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


def _print_ipvs(console: Any, lab: LabStatus) -> None:
    """The IPVS table of each director, laid out like ``ipvsadm -Ln --stats``."""
    for director, services in lab.ipvs.items():
        console.print(f"[bold]IPVS on {director}[/] (read back from the kernel)")
        lines = [f"  {'Prot LocalAddress:Port':<34} {'Sched':<6} {'Conns':>6} {'InPkts':>8} {'OutPkts':>8}",
                 f"    {'-> RemoteAddress:Port':<32} {'Forward':<7} {'Weight':>6} {'Active':>6} {'InAct':>6} "
                 f"{'Conns':>6} {'InPkts':>8} {'OutPkts':>8}"]
        for svc in services:
            vip = f"{svc.protocol.upper()} {svc.address}:{svc.port}"
            where = f"FWM {svc.fwmark}" if svc.fwmark else vip
            persist = f" persistent {svc.persistent}" if svc.persistent else ""
            lines.append(f"  {where:<34} {svc.scheduler:<6} {svc.conns:>6} {svc.inpkts:>8} "
                         f"{svc.outpkts:>8}{persist}")
            for d in svc.dests:
                lines.append(f"    -> {d.address + ':' + str(d.port):<29} {d.forward.capitalize():<7} "
                             f"{d.weight:>6} {d.active:>6} {d.inactive:>6} {d.conns:>6} "
                             f"{d.inpkts:>8} {d.outpkts:>8}")
        console.print("\n".join(lines), markup=False)


def _print_iptables(console: Any, lab: LabStatus) -> None:
    """Each node's iptables rules with packet and byte counters, as ``iptables-save -c`` reads them back
    (built-in chain policies shown when not ACCEPT or when they counted something)."""
    for node, data in lab.iptables.items():
        console.print(f"[bold]iptables on {node}[/] (read back from the kernel)")
        if data.error:
            console.print(f"  cannot read: {data.error}", markup=False)
            continue
        lines = [f"  {'table':<7} {'chain':<12} {'pkts':>8} {'bytes':>10}  rule"]
        for table, chain, packets, size, text in _iptables_rows(data):
            lines.append(f"  {table:<7} {chain:<12} {packets:>8} {size:>10}  {text}")
        console.print("\n".join(lines), markup=False)


def _iptables_rows(data: IptablesStatus) -> list[tuple[str, str, int, int, str]]:
    """(table, chain, packets, bytes, rule) in raw, mangle, nat, filter order, policies first in each."""
    order = ("raw", "mangle", "nat", "filter")
    rows: list[tuple[int, int, str, str, int, int, str]] = []
    for p in data.policies:
        if p.policy != "ACCEPT" or p.packets:
            rows.append((order.index(p.table) if p.table in order else 9, len(rows), p.table, p.chain,
                         p.packets, p.bytes, f"(policy {p.policy})"))
    for r in data.rules:
        rule = r.rule.split(" ", 2)[2] if r.rule.count(" ") >= 2 else r.rule
        rows.append((order.index(r.table) if r.table in order else 9, len(rows), r.table, r.chain,
                     r.packets, r.bytes, rule))
    return [row[2:] for row in sorted(rows)]


def _print_derived(console: Any, lab: LabStatus) -> None:
    """Settings netlab derived from the nodes' roles, each with why (and whether the topology overrode it)."""
    if not lab.derived:
        return
    console.print("[bold]derived settings[/] (from the nodes' IPVS roles)")
    for d in lab.derived:
        what = {"sysctl": f"{d.target}={d.value}", "address": f"address {d.target} on {d.value}",
                "route": f"route {d.target} via {d.value}", "link-up": f"{d.target} up"}[d.kind]
        state = "  [yellow](overridden by the topology)[/]" if d.overridden else ""
        console.print(f"  {d.node}: [bold]{what}[/]{state}")
        console.print(f"      {d.reason}", markup=False)
