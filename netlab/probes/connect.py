"""``tcp``, ``udp``, ``http`` and ``distribution``: a client in a node talks to an address, through the
kernel's own sockets, the way a real program would.

``tcp`` is the kernel selftest's check (ipvs.sh sends 32 random bytes with socat and compares): connect,
send N random bytes, half-close, read until the server closes, compare. ``udp`` is the same with one
datagram. ``http`` sends one GET and reads the ``X-Netlab-Node`` header a netlab ``http`` service adds,
so the answer names the real server behind a virtual IP. ``distribution`` repeats that N times, a new
connection each, and counts who served what.

Each failure is classified the way a learner should think about it: *refused* (an RST, or ICMP port
unreachable for UDP: the packet arrived, nothing listens), *timeout* (nothing came back: dropped on the
way), *unreachable* (an ICMP error: some router had no route).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from netlab.core.frozen import frozen
from netlab.probes.context import Context, capture_of, failed, ms, plural, sender_capture
from netlab.probes.nsfork import Channel, ChildFailed, ChildTimeout, call_in
from netlab.probes.result import ProbeResult
from netlab.probes.spec import DistributionProbe, HttpProbe, TcpProbe, UdpProbe

IP_RECVERR = 11
IPV6_RECVERR = 25
UNREACHABLE = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM, errno.EHOSTDOWN)


@frozen
class Exchange:
    """How one client exchange went."""

    outcome: str
    """ok, refused, timeout, unreachable, short (an answer, but not the right one), error."""
    text: str
    seconds: float
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    source: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None


def _host(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _connect(to: str, port: int, source: str | None, timeout: float) -> tuple[socket.socket | None, Exchange | None]:
    """A connected TCP socket, or the Exchange that says why there is none."""
    where = _host(to, port)
    sock = socket.socket(_family(to), socket.SOCK_STREAM)
    start = time.monotonic()
    try:
        if source:
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect((to, port))
        return sock, None
    except TimeoutError:
        why = Exchange("timeout", f"no answer to the connection request (SYN) to {where} within {timeout:g} s "
                       "(dropped on the way, or by a firewall)", time.monotonic() - start)
    except ConnectionRefusedError:
        why = Exchange("refused", f"connection to {where} refused (RST): the packet arrived but nothing listens "
                       f"on port {port} there, or a firewall rejects it", time.monotonic() - start)
    except OSError as exc:
        kind = "unreachable" if exc.errno in UNREACHABLE else "error"
        why = Exchange(kind, f"connection to {where} failed: {exc.strerror or exc}"
                       + (" (an ICMP error came back: some hop has no route)" if kind == "unreachable" else ""),
                       time.monotonic() - start)
    sock.close()
    return None, why


def _read_all(sock: socket.socket, deadline: float, limit: int) -> tuple[bytes, bool]:
    """Bytes until the peer closes (True) or the deadline passes (False)."""
    got = bytearray()
    while len(got) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(got), False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return bytes(got), False
        if not chunk:
            return bytes(got), True
        got += chunk
    return bytes(got), True


def tcp_exchange(to: str, port: int, size: int, source: str | None, timeout: float) -> Exchange:
    start = time.monotonic()
    sock, why = _connect(to, port, source, timeout)
    if sock is None:
        assert why is not None
        return why
    where = _host(to, port)
    payload = os.urandom(size)
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        got, closed = _read_all(sock, time.monotonic() + timeout, size + 65536)
    except OSError as exc:
        return Exchange("error", f"connected to {where}, then: {exc.strerror or exc}", time.monotonic() - start)
    finally:
        sock.close()
    took = time.monotonic() - start
    if got == payload:
        return Exchange("ok", f"{size} random bytes came back intact from {where} in {ms(took)}", took)
    if not got:
        return Exchange("short", f"connected to {where}, but none of the {size} bytes came back"
                        + ("" if closed else f" within {timeout:g} s"), took)
    if len(got) != size:
        return Exchange("short", f"connected to {where}, but {len(got)} of {size} bytes came back", took)
    return Exchange("short", f"{size} bytes came back from {where}, but changed", took)


def udp_exchange(to: str, port: int, size: int, source: str | None, timeout: float) -> Exchange:
    where = _host(to, port)
    payload = os.urandom(size)
    v6 = ":" in to
    sock = socket.socket(_family(to), socket.SOCK_DGRAM)
    start = time.monotonic()
    try:
        # report every ICMP error, not only "port unreachable" (Linux hides the others without it)
        sock.setsockopt(socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP, IPV6_RECVERR if v6 else IP_RECVERR, 1)
        if source:
            sock.bind((source, 0))
        sock.connect((to, port))
        sock.send(payload)
        sock.settimeout(timeout)
        got = sock.recv(65535)
    except TimeoutError:
        return Exchange("timeout", f"no datagram came back from {where} within {timeout:g} s", time.monotonic() - start)
    except ConnectionRefusedError:
        return Exchange("refused", f"{where} answered ICMP port unreachable: the datagram arrived but nothing listens "
                        f"on UDP port {port} there", time.monotonic() - start)
    except OSError as exc:
        kind = "unreachable" if exc.errno in UNREACHABLE else "error"
        return Exchange(kind, f"UDP to {where} failed: {exc.strerror or exc}", time.monotonic() - start)
    finally:
        sock.close()
    took = time.monotonic() - start
    if got == payload:
        return Exchange("ok", f"{size} random bytes came back intact from {where} in {ms(took)}", took)
    return Exchange("short", f"a datagram came back from {where}, but {len(got)} bytes instead of the {size} sent"
                    if len(got) != size else f"a datagram came back from {where}, but changed", took)


def http_exchange(to: str, port: int, path: str, source: str | None, timeout: float) -> Exchange:
    start = time.monotonic()
    sock, why = _connect(to, port, source, timeout)
    if sock is None:
        assert why is not None
        return why
    where = _host(to, port)
    local = str(sock.getsockname()[0])
    request = (f"GET {path} HTTP/1.1\r\nHost: {where}\r\nUser-Agent: netlab-probe\r\n"
               "Connection: close\r\n\r\n").encode()
    try:
        sock.sendall(request)
        raw, _closed = _read_all(sock, time.monotonic() + timeout, 1 << 20)
    except OSError as exc:
        return Exchange("error", f"connected to {where}, then: {exc.strerror or exc}", time.monotonic() - start)
    finally:
        sock.close()
    took = time.monotonic() - start
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return Exchange("short", f"connected to {where}, but no HTTP answer came back" +
                        (f" (got {raw[:40]!r})" if raw else f" within {timeout:g} s"), took, source=local)
    headers = tuple((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return Exchange("ok", f"HTTP {parts[1]} from {where}", took, int(parts[1]), headers,
                    body.decode(errors="replace"), local)


def _child(label: str, probe: Any, exchange: Callable[[], Exchange]) -> Callable[[Channel], dict[str, Any]]:
    def body(_channel: Channel) -> dict[str, Any]:
        cap = sender_capture()
        result = exchange()
        return {"exchange": result, "capture": capture_of(label, cap)}
    return body


def _expected_outcome(expect: str, ok_text: str, where: str, timeout: float) -> str:
    return {"ok": ok_text,
            "refused": f"the connection to {where} refused (the packet arrives, nothing listens)",
            "timeout": f"no answer at all from {where} within {timeout:g} s (dropped on the way)",
            "unreachable": f"an ICMP unreachable error for {where}",
            "fail": f"no successful exchange with {where}"}[expect]


def _outcome_passes(expect: str, outcome: str) -> bool:
    return outcome != "ok" if expect == "fail" else outcome == expect


def _run_exchange(ctx: Context, probe: TcpProbe | UdpProbe | HttpProbe, expected: str,
                  exchange: Callable[[], Exchange]) -> tuple[Exchange | None, ProbeResult | None, Any]:
    try:
        out: Any = call_in(ctx.view.netns(probe.from_), f"{probe.kind} client in {probe.from_}",
                           _child(probe.from_, probe, exchange), timeout=2 * probe.timeout + 5, reaper=ctx.reaper)
    except (ChildFailed, ChildTimeout) as exc:
        return None, failed(probe, expected, f"the {probe.kind} client could not run: {exc}"), None
    return out["exchange"], None, out["capture"]


def run_tcp(ctx: Context, probe: TcpProbe | UdpProbe) -> ProbeResult:
    where = _host(probe.to, probe.port)
    proto = "TCP" if isinstance(probe, TcpProbe) else "UDP"
    expected = _expected_outcome(probe.expect, f"{probe.bytes} random bytes sent to {where} over {proto} come back "
                                 "intact", where, probe.timeout)
    func = tcp_exchange if isinstance(probe, TcpProbe) else udp_exchange
    exchange, error, capture = _run_exchange(
        ctx, probe, expected, lambda: func(probe.to, probe.port, probe.bytes, probe.source, probe.timeout))
    if error is not None:
        return error
    assert exchange is not None
    return ProbeResult(probe.name, probe.kind, _outcome_passes(probe.expect, exchange.outcome), expected,
                       f"from {probe.from_}: {exchange.text}", 0.0,
                       details={"outcome": exchange.outcome, "seconds": exchange.seconds}, captures=(capture,))


def run_http(ctx: Context, probe: HttpProbe) -> ProbeResult:
    where = _host(probe.to, probe.port)
    ok_text = f"HTTP {probe.status} for GET {probe.path} from {where}"
    if probe.served_by:
        ok_text += f", served by {' or '.join(probe.served_by)}"
    if probe.body is not None:
        ok_text += f", the body containing {probe.body!r}"
    expected = _expected_outcome(probe.expect, ok_text, where, probe.timeout)
    exchange, error, capture = _run_exchange(
        ctx, probe, expected, lambda: http_exchange(probe.to, probe.port, probe.path, probe.source, probe.timeout))
    if error is not None:
        return error
    assert exchange is not None
    observed = f"from {probe.from_}: {exchange.text}"
    passed = _outcome_passes(probe.expect, exchange.outcome)
    node = exchange.header("x-netlab-node")
    if exchange.outcome == "ok":
        observed += f", served by {node}" if node else " (no X-Netlab-Node header: not a netlab http service)"
        if probe.body is not None:
            snippet = exchange.body.strip()[:60]
            observed += f", body {snippet!r}"
        if probe.expect == "ok":
            passed = (exchange.status == probe.status
                      and (not probe.served_by or node in probe.served_by)
                      and (probe.body is None or probe.body in exchange.body))
    return ProbeResult(probe.name, probe.kind, passed, expected, observed, 0.0,
                       details={"outcome": exchange.outcome, "status": exchange.status, "served_by": node,
                                "seconds": exchange.seconds}, captures=(capture,))


def _hold(probe: DistributionProbe, sources: list[str | None]) -> tuple[list[socket.socket], Exchange | None]:
    """The ``hold`` connections, open and idle (no request: a netlab http service waits for one), or the
    first failure. Each is connected once this returns, so the director has scheduled it already."""
    held: list[socket.socket] = []
    for i in range(probe.hold):
        sock, why = _connect(probe.to[i % len(probe.to)], probe.port, sources[i % len(sources)], probe.timeout)
        if sock is None:
            for s in held:
                s.close()
            return [], why
        held.append(sock)
    return held, None


def _distribution_child(probe: DistributionProbe) -> Callable[[Channel], dict[str, Any]]:
    def body(_channel: Channel) -> dict[str, Any]:
        cap = sender_capture()
        served: list[tuple[str, str, str]] = []
        sources: list[str | None] = [*probe.sources] or [None]
        held, why = _hold(probe, sources)
        if why is not None:
            return {"served": served, "hold_failed": why.text, "capture": capture_of(probe.from_, cap)}
        for i in range(probe.requests):
            source, to = sources[i % len(sources)], probe.to[i % len(probe.to)]
            ex = http_exchange(to, probe.port, probe.path, source, probe.timeout)
            who = ex.header("x-netlab-node") if ex.outcome == "ok" else None
            served.append((source or ex.source or probe.from_, to, who or f"({ex.outcome})"))
        for sock in held:
            sock.close()
        return {"served": served, "hold_failed": None, "capture": capture_of(probe.from_, cap)}
    return body


def _expected_distribution(probe: DistributionProbe, shares: dict[str, float]) -> str:
    parts = []
    if probe.hold:
        parts.append(f"with {plural(probe.hold, 'connection')} held open")
    if shares:
        parts.append(", ".join(f"{n} {s:.0%}" for n, s in shares.items()) + f" (±{probe.tolerance * 100:.0f} points)")
    if probe.sticky:
        parts.append(f"each {'destination' if probe.sticky == 'destination' else 'source'} served by one node only")
    if probe.servers is not None:
        parts.append(f"served by {probe.servers.describe('node')}")
    return "; ".join(parts)


def _stickiness(probe: DistributionProbe, served: list[tuple[str, str, str]]) -> tuple[bool, str,
                                                                                      dict[str, dict[str, int]]]:
    """(passed, text, per key) for ``sticky``: every source (or destination) served by one node only."""
    by_destination = probe.sticky == "destination"
    per_key: dict[str, dict[str, int]] = {}
    for source, to, who in served:
        counts = per_key.setdefault(to if by_destination else source, {})
        counts[who] = counts.get(who, 0) + 1
    if not probe.sticky:
        return True, "", per_key
    word = "to" if by_destination else "from"
    split = {k: c for k, c in per_key.items() if len(c) > 1 or any(w.startswith("(") for w in c)}
    if split:
        return False, "; not sticky: " + "; ".join(
            f"{word} {k}: " + ", ".join(f"{w} {c}" for w, c in sorted(v.items())) for k, v in split.items()), per_key
    return True, f"; per {'destination' if by_destination else 'source'}: " + "; ".join(
        f"{k} → {next(iter(v))}" for k, v in per_key.items()), per_key


def run_distribution(ctx: Context, probe: DistributionProbe) -> ProbeResult:
    where = ", ".join(_host(to, probe.port) for to in probe.to)
    total_weight = sum(probe.shares.values())
    shares = {node: w / total_weight for node, w in probe.shares.items()} if total_weight > 0 else {}
    expected = _expected_distribution(probe, shares)
    try:
        out: Any = call_in(ctx.view.netns(probe.from_), f"distribution client in {probe.from_}",
                           _distribution_child(probe), timeout=(probe.requests + probe.hold) * 2 * probe.timeout + 5,
                           reaper=ctx.reaper)
    except (ChildFailed, ChildTimeout) as exc:
        return failed(probe, expected, f"the requests could not run: {exc}")
    if out["hold_failed"] is not None:
        return ProbeResult(probe.name, probe.kind, False, expected, f"from {probe.from_}: could not open the "
                           f"connections to hold: {out['hold_failed']}", 0.0, captures=(out["capture"],))
    served: list[tuple[str, str, str]] = out["served"]
    counts: dict[str, int] = {}
    for _source, _to, who in served:
        counts[who] = counts.get(who, 0) + 1
    n = len(served)
    held = f" (with {plural(probe.hold, 'connection')} held open)" if probe.hold else ""
    text = f"{plural(n, 'request')} from {probe.from_} to {where}{held}: " + ", ".join(
        f"{who} {c} ({c / n:.0%})" for who, c in sorted(counts.items()))
    passed = True
    off = []
    for node in sorted(set(shares) | set(counts)):
        got, want = counts.get(node, 0) / n, shares.get(node, 0.0)
        if shares and abs(got - want) > probe.tolerance + 1e-9:
            passed = False
            off.append(f"{node} {got:.0%} instead of {want:.0%}")
    if off:
        text += "; outside the tolerance: " + ", ".join(off)
    nodes = sorted(who for who in counts if not who.startswith("("))
    if probe.servers is not None and not probe.servers.accepts(len(nodes)):
        passed = False
        text += f"; served by {plural(len(nodes), 'node')} ({', '.join(nodes) or 'none'})"
    sticky_ok, sticky_text, per_key = _stickiness(probe, served)
    passed = passed and sticky_ok
    if not sticky_ok or (probe.sticky and (len(per_key) > 1 or not shares)):
        text += sticky_text
    key = "per_destination" if probe.sticky == "destination" else "per_source"
    return ProbeResult(probe.name, probe.kind, passed, expected, text, 0.0,
                       details={"requests": n, "served": counts, "servers": nodes, "hold": probe.hold, key: per_key},
                       captures=(out["capture"],))
