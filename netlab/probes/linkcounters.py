"""``counters`` with ``interface``: an interface's own statistics in a node, read before and after another probe.

What ``ip -s link`` shows, from ``/proc/net/dev`` read by a child inside the node's namespace (``/proc/self/net``
is the reader's namespace). The lesson it proves is a device's verdict that no capture can see: an ``ipip``
device handed an IPv6 packet drops it and counts a TX error, and nothing at all leaves on the underlay.
"""

from __future__ import annotations

from collections.abc import Callable

from netlab.probes.context import Context, failed, plural
from netlab.probes.nsfork import Channel, ChildFailed, ChildTimeout, call_in
from netlab.probes.result import ProbeResult
from netlab.probes.spec import CountersProbe

# /proc/net/dev columns after "IFACE:": rx bytes packets errs drop fifo frame compressed multicast,
# tx bytes packets errs drop fifo colls carrier compressed
COLUMNS = {"rx_packets": 1, "rx_errors": 2, "rx_dropped": 3, "tx_packets": 9, "tx_errors": 10, "tx_dropped": 11}


def parse_dev(text: str, ifname: str) -> dict[str, int] | None:
    """The counters of ``ifname`` in ``/proc/net/dev`` text, None if it is not there."""
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if sep and name.strip() == ifname:
            values = rest.split()
            return {key: int(values[col]) for key, col in COLUMNS.items()}
    return None


def _reader(ifname: str) -> Callable[[Channel], dict[str, int] | None]:
    def body(_channel: Channel) -> dict[str, int] | None:
        with open("/proc/self/net/dev") as f:
            return parse_dev(f.read(), ifname)
    return body


def run(ctx: Context, probe: CountersProbe) -> ProbeResult:
    assert probe.interface is not None
    what = f"{probe.counter} of {probe.node}:{probe.interface}"
    amount = probe.packets.describe("packet") if probe.packets is not None else "any number of packets"
    expected = f"{what} to grow by {amount} while {probe.during} runs"
    during = ctx.view.probes.get(probe.during)
    if during is None:
        return failed(probe, expected, f"the lab has no probe {probe.during!r}")
    netns = ctx.view.netns(probe.node)
    try:
        before = call_in(netns, f"{what} reader", _reader(probe.interface), timeout=10, reaper=ctx.reaper)
        inner = ctx.run_probe(during)
        after = call_in(netns, f"{what} reader", _reader(probe.interface), timeout=10, reaper=ctx.reaper)
    except (ChildFailed, ChildTimeout) as exc:
        return failed(probe, expected, f"could not read {what}: {exc}")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return failed(probe, expected, f"{probe.node} has no interface {probe.interface}")
    grew = after[probe.counter] - before[probe.counter]
    passed = probe.packets is None or probe.packets.accepts(grew)
    observed = (f"{what} grew by {plural(grew, 'packet')} ({before[probe.counter]} → {after[probe.counter]}) "
                f"while {during.name} ran, which " + ("passed" if inner.passed else f"failed: {inner.observed}"))
    return ProbeResult(probe.name, probe.kind, passed, expected, observed, 0.0,
                       details={"interface": probe.interface, "counter": probe.counter, "grew": grew,
                                "before": before, "after": after, "during": inner.to_dict()},
                       captures=inner.captures)
