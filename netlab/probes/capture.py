"""``capture``: sniff on node interfaces while another probe runs, and count what matches.

This is how a lab proves a *path* rather than mere reachability: "the replies never cross the
director" (0 packets there), "on the underlay the packets are GRE with inner destination 10.1.0.2",
"the real server saw the client's own address as source".

Order of events, and why no sleep is needed: one sniffer child per interface enters its node's
namespace, attaches the BPF filter and binds (from then on every matching packet is queued) and says
"listening"; only when every sniffer has said so does the other probe start. When it is done the
sniffers are told to stop, drain what is queued, and keep reading until the interface has been quiet
for ``settle`` seconds (packets still in flight after the probe returned, such as the last ACK of a
TCP close). Frames are dissected here, in the parent, with scapy for the ``match`` fields -- only the
layers those need (:mod:`netlab.probes.layers`), imported once per run by the runner.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

from netlab.probes import layers
from netlab.probes.context import Context, failed, plural
from netlab.probes.dissect import ARPHRD_ETHER, dissect
from netlab.probes.fastmatch import fast_match
from netlab.probes.nsfork import Channel, Child, ChildFailed, ChildTimeout, fork_into
from netlab.probes.packets import (
    ETH_P_ALL,
    LINKTYPE_ETHERNET,
    PacketSocket,
    compile_bpf,
    dlt_for,
    interface_info,
)
from netlab.probes.result import Capture, ProbeResult
from netlab.probes.spec import CaptureProbe

LISTEN_TIMEOUT = 20.0
"""Seconds a sniffer may take to report it is listening (not the probe's own ``timeout``)."""


def _sniffer(ifname: str, bpf: str | None, settle: float, timeout: float) -> Callable[[Channel], dict[str, Any]]:
    def body(channel: Channel) -> dict[str, Any]:
        try:
            hatype, _mac = interface_info(ifname)
        except OSError as exc:
            raise RuntimeError(f"no interface {ifname}: {exc.strerror}") from None
        dlt, linktype = dlt_for(hatype)
        program = compile_bpf(bpf, dlt) if bpf else None
        sock = PacketSocket(ifname, ETH_P_ALL, program, raw=True)
        channel.send(("listening", hatype))
        while True:
            ready, _, _ = select.select([sock.fileno(), channel.stop_fd], [], [])
            if sock.fileno() in ready:
                sock.read_ready()
            if channel.stop_fd in ready:
                break
        sock.read_until_quiet(settle, time.monotonic() + timeout)
        sock.leave_open()
        return {"linktype": linktype, "frames": tuple(sock.frames)}
    return body


class Matcher:
    """``match:`` fields checked on scapy's dissection of a frame.

    Only the scapy modules the keys need are imported (:mod:`netlab.probes.layers`), never ``scapy.all``
    unless a key names a layer nothing smaller defines.
    """

    def __init__(self, match: dict[str, str | int]) -> None:
        self.checks: list[tuple[Any, int, str, str | int]] = []
        parsed = []
        for key, want in match.items():
            m = layers.KEY.match(key)
            if m is None:
                raise ValueError(f"{key!r} is not Layer.field")
            parsed.append((m, want))
        l2, inet, inet6 = layers.core()[:3]
        self._ether, self._ip, self._ipv6 = l2.Ether, inet.IP, inet6.IPv6
        for m, want in parsed:
            cls = layers.layer(m["layer"])
            if m["field"] not in {f.name for f in cls.fields_desc}:
                fields = ", ".join(f.name for f in cls.fields_desc)
                raise ValueError(f"scapy's {m['layer']} has no field {m['field']!r} (fields: {fields})")
            self.checks.append((cls, int(m["nth"] or 1), m["field"], want))

    def dissect(self, data: bytes, linktype: int) -> Any:
        if linktype == LINKTYPE_ETHERNET:
            return self._ether(data)
        return self._ipv6(data) if data and data[0] >> 4 == 6 else self._ip(data)

    def matches(self, pkt: Any) -> bool:
        for cls, nth, name, want in self.checks:
            layer = pkt.getlayer(cls, nth)
            if layer is None:
                return False
            value = getattr(layer, name)
            shown = layer.sprintf(f"%{cls.__name__}.{name}%")
            if isinstance(want, int) and not isinstance(value, str):
                try:
                    if int(value) == want:
                        continue
                except (TypeError, ValueError):
                    pass
            if str(want) not in (str(value), shown):
                return False
        return True


def summary(data: bytes, linktype: int) -> str:
    """A matched frame in tcpdump's words (netlab.probes.dissect: the path record's form, the same whichever of
    the fast path and scapy judged the match)."""
    return dissect(data, ARPHRD_ETHER if linktype == LINKTYPE_ETHERNET else 0).summary


def describe_selection(probe: CaptureProbe) -> str:
    parts = []
    if probe.filter:
        parts.append(f"'{probe.filter}'")
    if probe.match:
        parts.append("with " + ", ".join(f"{k}={v}" for k, v in probe.match.items()))
    what = " ".join(parts) or "(any packet)"
    direction = {"in": " received", "out": " sent", "both": ""}[probe.direction]
    return f"{what}{direction} on {', '.join(probe.at)}"


def run(ctx: Context, probe: CaptureProbe) -> ProbeResult:
    during = ctx.view.probes.get(probe.during)
    expected = f"{probe.packets.describe('packet')} {describe_selection(probe)} while {probe.during} runs"
    if during is None:
        return failed(probe, expected, f"the lab has no probe {probe.during!r}")
    fast = fast_match(probe.match) if probe.match else None
    try:
        matcher = Matcher(probe.match) if probe.match and fast is None else None
    except ValueError as exc:
        return failed(probe, expected, f"match: {exc}")
    children: list[tuple[str, Child]] = []
    try:
        for spec in probe.at:
            node, _, ifname = spec.partition(":")
            children.append((spec, fork_into(ctx.view.netns(node), f"sniffer on {spec}",
                                             _sniffer(ifname, probe.filter, probe.settle, probe.timeout),
                                             ctx.reaper)))
        for _spec, child in children:
            # "listening": the socket is bound with its filter. How long a sniffer takes to start is not
            # what the probe measures, and on a loaded one-CPU VM fork + setns + filter compile took > 2 s
            child.receive(max(probe.timeout, LISTEN_TIMEOUT))
        inner = ctx.run_probe(during)
        for _spec, child in children:
            child.stop()
        sniffed: list[tuple[str, Any]] = [(spec, child.result(probe.timeout + probe.settle + 5))
                                           for spec, child in children]
    except (ChildFailed, ChildTimeout) as exc:
        return failed(probe, expected, f"the capture could not run: {exc}")
    finally:
        for _spec, child in children:
            child.close()
    total = 0
    per_iface: dict[str, dict[str, int]] = {}
    first = ""
    captures = []
    for spec, out in sniffed:
        frames = out["frames"]
        captures.append(Capture(spec.replace(":", "-"), out["linktype"], frames))
        counts = {"in": 0, "out": 0}
        for frame in frames:
            direction = "out" if frame.outgoing else "in"
            if probe.direction != "both" and direction != probe.direction:
                continue
            if probe.match:
                hit = fast.matches(frame.data, out["linktype"]) if fast is not None else None
                if hit is None:  # scapy's to answer: a key the fast path does not read, or this frame's shape
                    matcher = matcher or Matcher(probe.match)
                    hit = matcher.matches(matcher.dissect(frame.data, out["linktype"]))
                if not hit:
                    continue
                if not first:
                    first = summary(frame.data, out["linktype"])
            elif not first:
                first = f"{len(frame.data)} bytes"
            counts[direction] += 1
        per_iface[spec] = counts
        total += counts["in"] + counts["out"]
    where = ", ".join(f"{spec} {c['in']} in/{c['out']} out" for spec, c in per_iface.items())
    observed = f"{plural(total, 'packet')} {describe_selection(probe)} ({where})"
    if first and probe.match:
        observed += f"; first: {first}"
    observed += f"; during {during.name}, which {'passed' if inner.passed else 'failed: ' + inner.observed}"
    return ProbeResult(probe.name, probe.kind, probe.packets.accepts(total), expected, observed, 0.0,
                       details={"packets": total, "per_interface": per_iface, "during": inner.to_dict()},
                       captures=(*captures, *inner.captures))
