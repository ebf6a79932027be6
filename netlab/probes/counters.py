"""``counters``: iptables rule counters in a node, read before and after another probe.

A firewall rule that should drop a flow proves it by counting: if the tcp probe fails *and* the DROP
rule's packet counter grew, the rule is why. Counters come from ``iptables-save -c`` run inside the
node with the backend netlab loads rules with (:func:`netlab.features.iptables.kernel.detect_backend`: the system's
``iptables-restore``, or the legacy one where nf_tables is missing); a rule is picked by a
piece of its text, which must select exactly one rule, so a probe never silently reads the wrong one.

With ``ipvs:`` the counters are an IPVS virtual service's statistics (or one real server's), read over
generic netlink inside the director's namespace: connections scheduled, packets and bytes in and out
(``ipvsadm -Ln --stats``). A DR or TUN service proves that replies bypass the director by an OutPkts
that stays 0 while traffic flows; a NAT service by one that grows.

The kernel does not publish IPVS counters as packets pass: its rate estimator copies the per-CPU
counters into the values netlink reports once every 2 seconds. There is no event to wait for, so each
reading (before and after) polls the table until the selected statistics change -- the estimator has
run since the reading began -- or more than two periods have passed without a change, which means
what was read was already complete (after traffic the estimated rates change at every run, so that
long wait only happens for a service or real server that has been idle). Each IPVS counters probe
therefore takes about two periods.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from typing import Any

from netlab.core.frozen import frozen
from netlab.probes.context import Context, IpvsServiceView, failed, plural
from netlab.probes.nsfork import Channel, ChildFailed, ChildTimeout, call_in, exec_in
from netlab.probes.result import ProbeResult
from netlab.probes.spec import CountersProbe

ESTIMATOR_WAIT = 5.0
"""Seconds within which the IPVS estimator publishes new counters: it runs every 2 s, but on a busy
machine (one CPU in the VM) a run was measured up to 1.2 s late."""
POLL = 0.05
RULE = re.compile(r"^\[(\d+):(\d+)\]\s+(-A\s+(\S+)\s.*)$")
POLICY = re.compile(r"^:(\S+)\s+(\S+)\s+\[(\d+):(\d+)\]")


@frozen
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
    from netlab.features.iptables.kernel import save_argv

    argv = save_argv(probe.family, probe.table)  # the backend netlab loads rules with (nft, or legacy in the VM)
    tool = argv[0].rsplit("/", 1)[-1]
    done = exec_in(netns, argv, timeout=10)
    if done.exit != 0:
        raise CounterError(f"`{tool} -c -t {probe.table}` in {probe.node} "
                           + ("timed out" if done.exit is None else f"exited with {done.exit}")
                           + (f": {done.output.strip()[:200]}" if done.output.strip() else ""))
    return select_counter(done.output, probe)


@frozen
class IpvsSample:
    """One reading of an IPVS service's (or real server's) statistics."""

    what: str
    conns: int
    inpkts: int
    outpkts: int
    inbytes: int
    outbytes: int
    rates: tuple[int, ...]
    """The estimated rates: they change at every estimator run after traffic, so a change of the sample
    shows that the estimator has run even when no counter grew."""

    def packets(self, direction: str) -> int:
        return self.inpkts if direction == "in" else self.outpkts

    def bytes(self, direction: str) -> int:
        return self.inbytes if direction == "in" else self.outbytes


def _same_address(a: str, b: str | None) -> bool:
    try:
        return b is not None and ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def select_ipvs(table: list[Any], svc: IpvsServiceView, dest: str | None) -> IpvsSample:
    """The statistics of ``svc`` (or of its real server ``dest``) in a table read by
    :func:`netlab.features.ipvs.kernel.read_table`."""
    label = f"IPVS service {svc.name}"
    for stats in table:
        if svc.fwmark is not None:
            if stats.fwmark != svc.fwmark:
                continue
        elif stats.fwmark or stats.protocol != svc.protocol or stats.port != svc.port or \
                not _same_address(stats.address, svc.vip):
            continue
        if dest is None:
            return IpvsSample(label, stats.conns, stats.inpkts, stats.outpkts, stats.inbytes, stats.outbytes,
                              tuple(stats.rates))
        address, port = next(((a, p) for node, a, p in svc.dests if node == dest), ("", 0))
        for d in stats.dests:
            if _same_address(d.address, address) and (d.port == port or svc.fwmark is not None):
                return IpvsSample(f"{label} → {dest} ({address})", d.conns, d.inpkts, d.outpkts, d.inbytes,
                                  d.outbytes, tuple(d.rates))
        raise CounterError(f"{label} in {svc.director} has no real server {dest} ({address}:{port})")
    where = f"fwmark {svc.fwmark}" if svc.fwmark is not None else f"{svc.vip}:{svc.port}/{svc.protocol}"
    raise CounterError(f"{svc.director} has no IPVS service {where} ({svc.name}) in its table")


def _ipvs_reading(svc: IpvsServiceView, dest: str | None) -> Callable[[Channel], IpvsSample | str]:
    """In the director's namespace: the statistics once the estimator has published everything that
    happened before this call (see the module docstring), or the text of what went wrong."""
    def body(_channel: Channel) -> IpvsSample | str:
        from netlab.features.ipvs.kernel import read_table

        try:
            first = select_ipvs(read_table(), svc, dest)
            deadline = time.monotonic() + ESTIMATOR_WAIT
            while time.monotonic() < deadline:
                time.sleep(POLL)  # the estimator's own period: no event announces a publication
                now = select_ipvs(read_table(), svc, dest)
                if now != first:
                    return now
            return first
        except CounterError as exc:
            return str(exc)
        except OSError as exc:
            return f"cannot read the IPVS table in {svc.director}: {exc}"
    return body


def read_ipvs(ctx: Context, probe: CountersProbe) -> IpvsSample:
    assert probe.ipvs is not None
    svc = ctx.view.ipvs.get(probe.ipvs.service)
    if svc is None:
        raise CounterError(f"the lab has no IPVS service {probe.ipvs.service!r}")
    try:
        out: Any = call_in(ctx.view.netns(probe.node), f"IPVS statistics in {probe.node}",
                           _ipvs_reading(svc, probe.ipvs.dest), timeout=ESTIMATOR_WAIT + 10, reaper=ctx.reaper)
    except (ChildFailed, ChildTimeout) as exc:
        raise CounterError(f"cannot read the IPVS table in {probe.node}: {exc}") from None
    if isinstance(out, str):
        raise CounterError(out)
    assert isinstance(out, IpvsSample)
    return out


def run_ipvs(ctx: Context, probe: CountersProbe) -> ProbeResult:
    assert probe.ipvs is not None
    direction = probe.ipvs.direction
    subject = f"IPVS service {probe.ipvs.service}" + (f" → {probe.ipvs.dest}" if probe.ipvs.dest else "") + \
        f" in {probe.node}"
    wants = []
    if probe.connections is not None:
        wants.append(probe.connections.describe("connection"))
    if probe.packets is not None:
        wants.append(f"{probe.packets.describe('packet')} {direction}")
    if probe.bytes is not None:
        wants.append(f"{probe.bytes.describe('byte')} {direction}")
    expected = f"{subject} to count {' and '.join(wants)} more while {probe.during} runs"
    during = ctx.view.probes.get(probe.during)
    if during is None:
        return failed(probe, expected, f"the lab has no probe {probe.during!r}")
    try:
        before = read_ipvs(ctx, probe)
        inner = ctx.run_probe(during)
        after = read_ipvs(ctx, probe)
    except CounterError as exc:
        return failed(probe, expected, str(exc))
    dc = after.conns - before.conns
    dp = after.packets(direction) - before.packets(direction)
    db = after.bytes(direction) - before.bytes(direction)
    passed = ((probe.connections is None or probe.connections.accepts(dc))
              and (probe.packets is None or probe.packets.accepts(dp))
              and (probe.bytes is None or probe.bytes.accepts(db)))
    name = "InPkts" if direction == "in" else "OutPkts"
    observed = (f"{after.what} in {probe.node} counted +{plural(dc, 'connection')}, +{plural(dp, 'packet')} "
                f"{direction}, +{plural(db, 'byte')} {direction} ({name} {before.packets(direction)} → "
                f"{after.packets(direction)}) while {during.name} ran, which "
                + ("passed" if inner.passed else f"failed: {inner.observed}"))
    return ProbeResult(probe.name, probe.kind, passed, expected, observed, 0.0,
                       details={"ipvs": after.what, "connections": dc, "packets": dp, "bytes": db,
                                "direction": direction, "during": inner.to_dict()},
                       captures=inner.captures)


def run(ctx: Context, probe: CountersProbe) -> ProbeResult:
    if probe.ipvs is not None:
        return run_ipvs(ctx, probe)
    if probe.interface is not None:
        from netlab.probes import linkcounters

        return linkcounters.run(ctx, probe)
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
