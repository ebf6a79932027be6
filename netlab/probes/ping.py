"""``ping``: ICMP echo from a node, answers counted, ICMP errors named.

A raw ICMP socket in the node's namespace, as ``ping`` uses: echo requests carry our identifier, and
replies as well as ICMP errors quoting our requests (net unreachable, TTL exceeded) are matched to
them. An error ends the wait for its request at once, so "this address is unreachable" costs a round
trip, not a timeout.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from netlab.probes.context import Context, capture_of, failed, ms, plural, sender_capture
from netlab.probes.nsfork import Channel, ChildFailed, ChildTimeout, call_in
from netlab.probes.result import ProbeResult
from netlab.probes.spec import ICMP4_ERRORS, ICMP6_ERRORS, PingProbe

IP_MTU_DISCOVER, IP_PMTUDISC_DO, IPV6_DONTFRAG = 10, 2, 62  # include/uapi/linux/in.h, in6.h


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def _echo(v6: bool, ident: int, seq: int, size: int = 20) -> bytes:
    payload = (struct.pack("!d", time.time()) + b"netlab-probe").ljust(size, b".")
    kind = 128 if v6 else 8
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if v6:
        return header + payload  # the kernel fills in the ICMPv6 checksum (it needs the pseudo header)
    return struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, seq) + payload


def _parse(v6: bool, data: bytes, sender: str, ident: int) -> tuple[str, int, str] | None:
    """("reply" | error name, seq, from) for packets about our echo requests; None for anything else."""
    if not v6:
        if len(data) < 20:
            return None
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < 8:
        return None
    kind, code = data[0], data[1]
    if kind == (129 if v6 else 0):
        rid, seq = struct.unpack_from("!HH", data, 4)
        return ("reply", seq, sender) if rid == ident else None
    errors = ICMP6_ERRORS if v6 else ICMP4_ERRORS
    if (kind, code) in errors or kind in ((1, 3) if v6 else (3, 11)):
        inner = data[8:]
        if v6:
            if len(inner) < 48 or inner[40] != 128:
                return None
            quoted = inner[40:]
        else:
            if len(inner) < 28:
                return None
            quoted = inner[(inner[0] & 0x0F) * 4:]
            if len(quoted) < 8 or quoted[0] != 8:
                return None
        rid, seq = struct.unpack_from("!HH", quoted, 4)
        if rid != ident:
            return None
        return errors.get((kind, code), f"ICMP type {kind} code {code}"), seq, sender
    return None


def _body(probe: PingProbe) -> Callable[[Channel], dict[str, Any]]:
    def body(_channel: Channel) -> dict[str, Any]:
        cap = sender_capture()
        v6 = ipaddress.ip_address(probe.to).version == 6
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                             socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
        sock.setblocking(False)
        if probe.df:  # ping -M do: the kernel refuses what its route's MTU cannot carry, nobody fragments
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_DONTFRAG, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        ident = os.getpid() & 0xFFFF
        sent: dict[int, float] = {}
        rtts: dict[int, float] = {}
        errors: dict[int, tuple[str, str]] = {}
        seq = 0
        next_send = time.monotonic()
        deadline = float("inf")
        send_error = ""
        while True:
            now = time.monotonic()
            if seq < probe.count and now >= next_send:
                try:
                    sock.sendto(_echo(v6, ident, seq, probe.size), (probe.to, 0))
                except OSError as exc:  # e.g. no route in the sender itself
                    # EMSGSIZE by the name ping -M do prints (a probe may expect it); others as strerror says
                    send_error = ("message too long" if exc.errno == errno.EMSGSIZE else exc.strerror or str(exc))
                    errors[seq] = (send_error, "the sender")
                sent[seq] = now
                seq += 1
                next_send = now + probe.interval
                if seq == probe.count:
                    deadline = now + probe.timeout
            if seq == probe.count and len(rtts) + len(errors) >= probe.count:
                break
            if now >= deadline:
                break
            wake = min(next_send if seq < probe.count else deadline, deadline)
            ready, _, _ = select.select([sock], [], [], max(0.0, wake - now))
            if not ready:
                continue
            while True:
                try:
                    data, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                parsed = _parse(v6, data, str(addr[0]), ident)
                if parsed is None or parsed[1] not in sent or parsed[1] in rtts or parsed[1] in errors:
                    continue
                what, n, sender = parsed
                if what == "reply":
                    rtts[n] = time.monotonic() - sent[n]
                else:
                    errors[n] = (what, sender)
        return {"sent": seq, "rtts": sorted(rtts.values()), "errors": sorted(errors.values()),
                "capture": capture_of(probe.from_, cap)}

    return body


def run(ctx: Context, probe: PingProbe) -> ProbeResult:
    n = probe.count
    if probe.loss == 0:
        expected = f"all {n} echo requests answered (0% loss)" if n > 1 else "the echo request answered"
    elif probe.loss == 100:
        expected = "no echo answered (100% loss)"
    else:
        expected = f"{probe.loss}% loss (±{100 / n:.0f} points)"
    try:
        out: Any = call_in(ctx.view.netns(probe.from_), f"ping from {probe.from_}", _body(probe),
                           timeout=probe.timeout + n * probe.interval + 5, reaper=ctx.reaper)
    except (ChildFailed, ChildTimeout) as exc:
        return failed(probe, expected, f"the ping could not run: {exc}")
    rtts: list[float] = out["rtts"]
    errors: list[tuple[str, str]] = out["errors"]
    answered = len(rtts)
    loss = round(100 * (n - answered) / n)
    shape = (f" of {probe.size} bytes" if probe.size != 20 else "") + (" with DF" if probe.df else "")
    text = f"{plural(n, 'echo request')}{shape} from {probe.from_} to {probe.to}: {answered} answered ({loss}% loss)"
    if rtts:
        text += f", rtt avg {ms(sum(rtts) / len(rtts))}"
    if errors:
        counts: dict[tuple[str, str], int] = {}
        for err in errors:
            counts[err] = counts.get(err, 0) + 1
        text += "; " + ", ".join(f"{c} '{what}' from {sender}" for (what, sender), c in counts.items())
    if answered + len(errors) < n:
        text += f"; {n - answered - len(errors)} got no answer within {probe.timeout:g} s"
    passed = loss == probe.loss if probe.loss in (0, 100) else abs(loss - probe.loss) <= 100 / n
    if probe.error is not None:
        expected += f", every unanswered request answered by ICMP '{probe.error}'"
        named = sum(1 for what, _sender in errors if what == probe.error)
        passed = passed and named == n - answered and named > 0
    return ProbeResult(probe.name, probe.kind, passed, expected, text, 0.0,
                       details={"sent": n, "answered": answered, "loss": loss, "rtt_ms": [r * 1000 for r in rtts],
                                "errors": [list(e) for e in errors]},
                       captures=(out["capture"],))
