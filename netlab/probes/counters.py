"""``counters``: iptables rule counters in a node, read before and after another probe.

A firewall rule that should drop a flow proves it by counting: if the tcp probe fails *and* the DROP
rule's packet counter grew, the rule is why. Counters come from ``iptables-save -c`` run inside the
node (the same binary, nft or legacy, that the lab's ``iptables-restore`` used); a rule is picked by a
piece of its text, which must select exactly one rule, so a probe never silently reads the wrong one.
IPVS service and destination statistics will join here once IPVS labs land.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netlab.probes.context import Context, failed, plural
from netlab.probes.model import CountersProbe
from netlab.probes.nsfork import exec_in
from netlab.probes.result import ProbeResult

RULE = re.compile(r"^\[(\d+):(\d+)\]\s+(-A\s+(\S+)\s.*)$")
POLICY = re.compile(r"^:(\S+)\s+(\S+)\s+\[(\d+):(\d+)\]")


@dataclass(frozen=True)
class Counter:
    what: str
    """The rule as iptables-save prints it (``-A FORWARD -p tcp ... -j DROP``) or ``policy of FORWARD``."""
    packets: int
    bytes: int


class CounterError(Exception):
    """The rule cannot be read (not exactly one match, iptables missing or failing)."""


def parse_save(text: str, table: str) -> tuple[list[tuple[str, Counter]], dict[str, Counter]]:
    """(rules as (chain, counter), policies by chain) of one table in ``iptables-save -c`` output."""
    rules: list[tuple[str, Counter]] = []
    policies: dict[str, Counter] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            current = line[1:]
            continue
        if current != table:
            continue
        if m := RULE.match(line):
            rules.append((m[4], Counter(m[3], int(m[1]), int(m[2]))))
        elif m := POLICY.match(line):
            policies[m[1]] = Counter(f"policy {m[2]} of chain {m[1]}", int(m[3]), int(m[4]))
    return rules, policies


def select_counter(text: str, probe: CountersProbe) -> Counter:
    rules, policies = parse_save(text, probe.table)
    if probe.rule is None:
        assert probe.chain is not None
        if probe.chain not in policies:
            raise CounterError(f"table {probe.table} has no built-in chain {probe.chain} with a policy "
                               f"(chains: {', '.join(policies) or 'none'})")
        return policies[probe.chain]
    found = [c for chain, c in rules if (probe.chain is None or chain == probe.chain) and probe.rule in c.what]
    scope = f"table {probe.table}" + (f", chain {probe.chain}" if probe.chain else "")
    if len(found) == 1:
        return found[0]
    if not found:
        listing = "; ".join(c.what for _chain, c in rules) or "none"
        raise CounterError(f"no rule in {scope} contains {probe.rule!r} (its rules: {listing})")
    raise CounterError(f"{len(found)} rules in {scope} contain {probe.rule!r}: "
                       + "; ".join(c.what for c in found) + " -- make `rule` select one")


def read_counter(netns: str, probe: CountersProbe) -> Counter:
    tool = "iptables-save" if probe.family == 4 else "ip6tables-save"
    done = exec_in(netns, [tool, "-c", "-t", probe.table], timeout=10)
    if done.exit != 0:
        raise CounterError(f"`{tool} -c -t {probe.table}` in {probe.node} "
                           + ("timed out" if done.exit is None else f"exited with {done.exit}")
                           + (f": {done.output.strip()[:200]}" if done.output.strip() else ""))
    return select_counter(done.output, probe)


def run(ctx: Context, probe: CountersProbe) -> ProbeResult:
    subject = f"the {'rule matching ' + repr(probe.rule) if probe.rule else 'policy of ' + str(probe.chain)} " \
              f"in {probe.node} (table {probe.table})"
    wants = []
    if probe.packets is not None:
        wants.append(probe.packets.describe("packet"))
    if probe.bytes is not None:
        wants.append(probe.bytes.describe("byte"))
    expected = f"{subject} to count {' and '.join(wants)} more while {probe.during} runs"
    during = ctx.view.probes.get(probe.during)
    if during is None:
        return failed(probe, expected, f"the lab has no probe {probe.during!r}")
    try:
        netns = ctx.view.netns(probe.node)
        before = read_counter(netns, probe)
        inner = ctx.run_probe(during)
        after = read_counter(netns, probe)
    except CounterError as exc:
        return failed(probe, expected, str(exc))
    dp, db = after.packets - before.packets, after.bytes - before.bytes
    passed = (probe.packets is None or probe.packets.accepts(dp)) and (probe.bytes is None or probe.bytes.accepts(db))
    observed = (f"`{after.what}` counted +{plural(dp, 'packet')}, +{plural(db, 'byte')} "
                f"({before.packets} → {after.packets} packets) while {during.name} ran, which "
                + ("passed" if inner.passed else f"failed: {inner.observed}"))
    return ProbeResult(probe.name, probe.kind, passed, expected, observed, 0.0,
                       details={"rule": after.what, "packets": dp, "bytes": db, "during": inner.to_dict()},
                       captures=inner.captures)
