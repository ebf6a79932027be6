"""``arp``: send an ARP who-has from a node's interface and report every MAC that answered.

This is the check IPVS direct routing lives or dies by: the VIP is on the director *and* on every real
server's ``lo``, and unless the real servers have ``arp_ignore``/``arp_announce`` set, they answer
who-has for the VIP too -- and clients send to whichever answer came last. So the probe does not stop
at the first answer: it listens for the whole ``timeout`` and names every answerer by node.

The request is built by hand (42 bytes) and sent on a packet socket bound to the interface with an
ARP-only protocol, so answers to it are already queued by the time it leaves.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from netlab.kernel.netns import netns_path, setns
from netlab.probes.context import Context, LabView, failed, plural
from netlab.probes.nsfork import Channel, ChildFailed, ChildTimeout, Reaper, call_in
from netlab.probes.packets import (
    ARPHRD_ETHER,
    ETH_P_ARP,
    LINKTYPE_ETHERNET,
    PACKET_OUTGOING,
    Frame,
    PacketSocket,
    interface_info,
)
from netlab.probes.result import Capture, ProbeResult
from netlab.probes.spec import ArpProbe


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def who_has(mac: bytes, sender_ip: str, target_ip: str) -> bytes:
    """An Ethernet broadcast ARP request: who has ``target_ip``? tell ``sender_ip`` (at ``mac``)."""
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(sender_ip), b"\0" * 6,
                      socket.inet_aton(target_ip))
    return b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP) + arp


def _body(ifname: str, sender_ip: str, target_ip: str, window: float) -> Callable[[Channel], dict[str, Any]]:
    def body(_channel: Channel) -> dict[str, Any]:
        sock = PacketSocket(ifname, ETH_P_ARP, raw=True)
        mac = bytes(sock.sock.getsockname()[4])
        request = who_has(mac, sender_ip, target_ip)
        sent = time.time()
        sock.sock.send(request)
        # a packet socket does not see what it sent itself: keep the request for the pcap by hand
        sock.frames.append(Frame(sent, ifname, PACKET_OUTGOING, ARPHRD_ETHER, ETH_P_ARP, mac, request))
        deadline = time.monotonic() + window
        while (left := deadline - time.monotonic()) > 0:
            select.select([sock.sock], [], [], left)
            sock.read_ready()
        target = socket.inet_aton(target_ip)
        answers: dict[str, int] = {}
        for frame in sock.frames:
            data = frame.data
            if frame.outgoing or len(data) < 42:
                continue
            op, sha, spa = struct.unpack_from("!H6s4s", data, 20)
            if op == 2 and spa == target:
                answers[mac_text(sha)] = answers.get(mac_text(sha), 0) + 1
        sock.leave_open()
        capture = Capture(f"{ifname}", LINKTYPE_ETHERNET, tuple(sock.frames))
        return {"mac": mac_text(mac), "answers": answers, "capture": capture}
    return body


def _macs_body(view: LabView) -> Callable[[Channel], dict[str, str]]:
    """In one child: visit every node's namespace and list its interfaces' MACs (``node:ifname``)."""
    def body(_channel: Channel) -> dict[str, str]:
        owners: dict[str, str] = {}
        for node in view.nodes.values():
            fd = None
            try:
                fd = os.open(netns_path(node.netns), os.O_RDONLY | os.O_CLOEXEC)
                setns(fd)
            except OSError:
                continue
            finally:
                if fd is not None:
                    os.close(fd)
            for _index, name in socket.if_nameindex():
                try:
                    _hatype, mac = interface_info(name)
                except OSError:
                    continue
                if any(mac):
                    owners.setdefault(mac_text(mac), f"{node.name}:{name}")
        return owners
    return body


def mac_owners(view: LabView, reaper: Reaper | None = None) -> dict[str, str]:
    """MAC → ``node:interface`` for every interface of the lab's nodes, read from the kernel now."""
    first = next(iter(view.nodes.values()))
    result: Any = call_in(first.netns, "MAC lookup", _macs_body(view), timeout=10, reaper=reaper)
    return {**view.elsewhere, **dict(result)}


def _expected(probe: ArpProbe) -> str:
    if probe.answered_by:
        nodes = sorted(set(probe.answered_by))
        return "only " + " and ".join(nodes) if len(nodes) < 3 else "only " + ", ".join(nodes)
    n = 1 if probe.answers is None else probe.answers
    if n == 0:
        return "no answer (nobody owns the address)"
    return f"exactly {plural(n, 'MAC')} answering"


def run(ctx: Context, probe: ArpProbe) -> ProbeResult:
    expected = _expected(probe)
    node = ctx.view.nodes.get(probe.from_)
    if node is None:
        return failed(probe, expected, f"lab has no node {probe.from_}")
    ifname, sender = probe.interface, probe.source
    if ifname is None:
        found = node.interface_for(probe.to)
        if found is None:
            return failed(probe, expected, f"{probe.from_} has no interface on a subnet containing {probe.to}; "
                          "set `interface:` (and `source:`)")
        ifname, sender = found[0], sender or found[1]
    if sender is None:
        sender = node.first_ipv4(ifname) or "0.0.0.0"  # an ARP probe (RFC 5227) when the interface has none
    ipaddress.IPv4Address(sender)
    try:
        out: Any = call_in(node.netns, f"ARP asker on {probe.from_}:{ifname}",
                           _body(ifname, sender, probe.to, probe.timeout), timeout=probe.timeout + 5,
                           reaper=ctx.reaper)
        owners = mac_owners(ctx.view, ctx.reaper) if out["answers"] else {}
    except (ChildFailed, ChildTimeout) as exc:
        return failed(probe, expected, f"the ARP request could not be sent: {exc}")
    answers: dict[str, int] = out["answers"]
    named = sorted((owners.get(mac, "unknown").split(":")[0], mac) for mac in answers)
    head = f"ARP who-has {probe.to} from {probe.from_}:{ifname}"
    if not answers:
        observed = f"{head}: no answer within {probe.timeout:g} s"
    else:
        observed = f"{head} answered by {plural(len(answers), 'MAC')}: " + ", ".join(
            f"{who} {mac}" for who, mac in named)
    if probe.answered_by:
        passed = {who for who, _ in named} == set(probe.answered_by)
    else:
        passed = len(answers) == (1 if probe.answers is None else probe.answers)
    return ProbeResult(probe.name, probe.kind, passed, expected, observed, 0.0,
                       details={"answers": {mac: {"node": owners.get(mac, "unknown"), "replies": c}
                                            for mac, c in answers.items()}, "interface": ifname},
                       captures=(Capture(f"{probe.from_}-{ifname}", out["capture"].linktype,
                                         out["capture"].frames),))
