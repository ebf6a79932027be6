"""``netlab status`` for iptables: each node's rules and policies with their counters, read back with the
backend netlab loads rules with (``iptables-save -c`` inside the node)."""

from __future__ import annotations

from collections.abc import Callable

from netlab.core.codec import to_data
from netlab.core.frozen import frozen
from netlab.features.iptables.kernel import ChainPolicy, RuleCounter, parse_save, save_argv
from netlab.features.iptables.resolved import TABLE_ORDER
from netlab.features.manifest import StatusPart
from netlab.model.resolved import ResolvedLab


@frozen
class IptablesStatus:
    """A node's rules and built-in chain policies with their counters, as the kernel reports them."""

    rules: tuple[RuleCounter, ...]
    policies: tuple[ChainPolicy, ...]
    error: str = ""
    """Why they could not be read (empty when they were)."""


def read_iptables(netns: str) -> IptablesStatus:
    """``error`` says why they could not be read."""
    from netlab.kernel.netns import is_mounted_netns, netns_path
    from netlab.probes.nsfork import exec_in

    if not is_mounted_netns(netns_path(netns)):
        return IptablesStatus((), (), "namespace is gone")
    done = exec_in(netns, save_argv(), timeout=10)
    if done.exit != 0:
        return IptablesStatus((), (), done.output.strip()[:300] or f"exit {done.exit}")
    rules, policies = parse_save(done.output)
    return IptablesStatus(tuple(rules), tuple(policies))


def rows(data: IptablesStatus) -> list[tuple[str, str, int, int, str]]:
    """(table, chain, packets, bytes, rule) in raw, mangle, nat, filter, security order, policies first in each
    (shown when not ACCEPT or when they counted something)."""
    order = TABLE_ORDER
    out: list[tuple[int, int, str, str, int, int, str]] = []
    for p in data.policies:
        if p.policy != "ACCEPT" or p.packets:
            out.append((order.index(p.table) if p.table in order else 9, len(out), p.table, p.chain,
                        p.packets, p.bytes, f"(policy {p.policy})"))
    for r in data.rules:
        rule = r.rule.split(" ", 2)[2] if r.rule.count(" ") >= 2 else r.rule
        out.append((order.index(r.table) if r.table in order else 9, len(out), r.table, r.chain,
                    r.packets, r.bytes, rule))
    return [row[2:] for row in sorted(out)]


def render(data: IptablesStatus) -> str:
    if data.error:
        return f"  cannot read: {data.error}"
    lines = [f"  {'table':<7} {'chain':<12} {'pkts':>8} {'bytes':>10}  rule"]
    for table, chain, packets, size, text in rows(data):
        lines.append(f"  {table:<7} {chain:<12} {packets:>8} {size:>10}  {text}")
    return "\n".join(lines)


def part(node: str, data: IptablesStatus) -> StatusPart:
    return StatusPart(node, f"iptables on {node}", render(data), to_data(data))


def sections(lab: ResolvedLab, netns_of: Callable[[str], str | None]) -> list[StatusPart]:
    """The status hook: the nodes whose topology declares rules."""
    out = []
    for node in lab.nodes:
        netns = netns_of(node.name)
        if node.iptables and netns is not None:
            out.append(part(node.name, read_iptables(netns)))
    return out
