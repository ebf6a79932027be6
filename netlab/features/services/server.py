"""The servers behind ``tcp-echo``, ``udp-echo``, ``discard`` and ``http``: one single-threaded event loop each.

This code runs in the service process (forked by :mod:`netlab.features.services.runner`, already inside its
node's namespace, stdout and stderr going to the service's log file). It uses only the standard
library's ``socket`` and ``selectors``: nothing to import that the parent did not already have.

Choices that matter to probes:

* Every listening socket is bound with ``IP_FREEBIND``/``IPV6_FREEBIND``, so a service can listen on
  an address its node does not (yet) own, as an IPVS real server in NAT mode or a director's VIP.
* The UDP echo answers *from the address the datagram was sent to* (``IP_PKTINFO``), not from
  whatever the routing table would pick: a reply to a VIP on ``lo`` must come from the VIP, or the
  client's connected socket drops it.
* The HTTP server names its node in the header ``X-Netlab-Node`` and (by default) in the body.
* One log line per connection or datagram, with both addresses: "the real server saw the client's
  own address as source" can be read in the log as well as proved by a capture.

It is also a command, ``python3 -m netlab.features.services.server --node rs1 --kind http``: what a lab script
written by ``netlab export`` starts with ``ip netns exec``, so the lab it builds answers its probes exactly as
the lab ``netlab up`` builds does (see :func:`main`).
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from netlab.features.services.spec import ServiceSpec

IP_FREEBIND = 15
IPV6_FREEBIND = 78
IP_PKTINFO = 8
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
MAX_REQUEST = 64 * 1024


def set_name(spec: ServiceSpec) -> None:
    """Name the process ``netlab-<kind>`` (its ``comm``, what ``ps -o comm`` and ``pgrep`` show), however it was
    started: by ``up`` or by an exported script."""
    import ctypes

    try:
        ctypes.CDLL(None).prctl(15, f"netlab-{spec.kind}".encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def log(line: str) -> None:
    """One line to the service's log (fd 1), unbuffered, so it is there even if the service is killed."""
    stamp = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    os.write(1, f"{stamp} {line}\n".encode(errors="replace"))


def _peer(addr: tuple[object, ...]) -> str:
    host = str(addr[0])
    return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"


def listen(spec: ServiceSpec) -> socket.socket:
    """The bound (and, for TCP, listening) socket of a service: from here on it accepts."""
    v6 = ":" in spec.address
    family = socket.AF_INET6 if v6 else socket.AF_INET
    kind = socket.SOCK_DGRAM if spec.protocol == "udp" else socket.SOCK_STREAM
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP, IPV6_FREEBIND if v6 else IP_FREEBIND, 1)
    if spec.protocol == "udp":
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.bind((spec.address, spec.port))
    if spec.protocol == "tcp":
        sock.listen(512)
    sock.setblocking(False)
    return sock


@dataclass
class _Conn:
    """One TCP connection: what came in, what is still to be sent, and how far the exchange got."""

    sock: socket.socket
    peer: str
    local: str
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    received: int = 0
    eof: bool = False
    answered: bool = False


class Server:
    """The event loop of one service."""

    def __init__(self, spec: ServiceSpec, sock: socket.socket) -> None:
        self.spec = spec
        self.sock = sock
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock, selectors.EVENT_READ, None)

    def serve_forever(self) -> None:
        on_listener: Callable[[], None] = self._datagram if self.spec.protocol == "udp" else self._accept
        while True:
            for key, events in self.sel.select():
                if key.data is None:
                    on_listener()
                else:
                    self._stream(key.data, events)

    # ---------------------------------------------------------------- UDP echo
    def _datagram(self) -> None:
        v6 = self.sock.family == socket.AF_INET6
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, 256)
            except BlockingIOError:
                return
            except OSError as exc:  # an ICMP error queued for an earlier reply
                log(f"udp-echo: {exc.strerror}")
                continue
            reply_anc = []
            local = "?"
            for level, kind, payload in anc:
                if not v6 and level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(payload) >= 12:
                    dst = payload[8:12]  # ipi_addr: the address the datagram was sent to
                    local = socket.inet_ntoa(dst)
                    reply_anc.append((socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=i4s4s", 0, dst, b"\0" * 4)))
                elif v6 and level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(payload) >= 20:
                    local = socket.inet_ntop(socket.AF_INET6, payload[:16])
                    reply_anc.append((socket.IPPROTO_IPV6, IPV6_PKTINFO, payload[:16] + b"\0\0\0\0"))
            try:
                self.sock.sendmsg([data], reply_anc, 0, addr)
                log(f"udp-echo: {_peer(addr)} -> {local}:{self.spec.port} {len(data)} bytes echoed")
            except OSError as exc:
                log(f"udp-echo: {_peer(addr)} -> {local}:{self.spec.port}: reply failed: {exc.strerror}")

    # ---------------------------------------------------------------- TCP (echo, http)
    def _accept(self) -> None:
        while True:
            try:
                conn, addr = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                log(f"{self.spec.kind}: accept failed: {exc.strerror}")
                return
            conn.setblocking(False)
            state = _Conn(conn, _peer(addr), _peer(conn.getsockname()))
            self.sel.register(conn, selectors.EVENT_READ, state)

    def _stream(self, c: _Conn, events: int) -> None:
        try:
            if events & selectors.EVENT_READ and not c.eof:
                chunk = c.sock.recv(65536)
                if chunk:
                    c.received += len(chunk)
                    if self.spec.kind == "tcp-echo":
                        c.outbuf += chunk
                    elif self.spec.kind == "http" and not c.answered:
                        c.inbuf += chunk
                        self._http(c)
                else:
                    c.eof = True
                    if self.spec.kind == "http" and not c.answered:
                        self._http(c, force=True)
            if c.outbuf:
                sent = c.sock.send(c.outbuf)
                del c.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            log(f"{self.spec.kind}: {c.peer} -> {c.local}: {exc.strerror}")
            self._close(c)
            return
        done = not c.outbuf and (c.eof or (self.spec.kind == "http" and c.answered))
        if done:
            if self.spec.kind in ("tcp-echo", "discard"):
                done_what = "echoed" if self.spec.kind == "tcp-echo" else "received and discarded"
                log(f"{self.spec.kind}: {c.peer} -> {c.local} {c.received} bytes {done_what}")
            self._close(c)
            return
        wanted = (0 if c.eof or c.answered else selectors.EVENT_READ) | (selectors.EVENT_WRITE if c.outbuf else 0)
        self.sel.modify(c.sock, wanted or selectors.EVENT_READ, c)

    def _http(self, c: _Conn, force: bool = False) -> None:
        if b"\r\n\r\n" not in c.inbuf and b"\n\n" not in c.inbuf and not force and len(c.inbuf) < MAX_REQUEST:
            return
        line = bytes(c.inbuf).split(b"\n", 1)[0].decode("latin-1").strip()
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("GET", "HEAD"):
            status, body = "200 OK", self.spec.body.encode()
        else:
            status, body = "400 Bad Request", b"bad request\n"
        head = (f"HTTP/1.1 {status}\r\nServer: netlab\r\nX-Netlab-Node: {self.spec.node}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        c.outbuf += head + (b"" if parts[:1] == ["HEAD"] else body)
        c.answered = True
        log(f"http: {c.peer} -> {c.local} \"{line[:100]}\" {status.split()[0]}")

    def _close(self, c: _Conn) -> None:
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        c.sock.close()


def main(argv: list[str] | None = None) -> int:
    """One service, started by hand or by an exported lab script inside a node (``ip netns exec NODE python3 -m
    netlab.features.services.server --node NODE --kind http``), with the defaults and checks of the topology's
    ``services:`` entry.

    Why it forks only once the socket listens: the command then returns exactly when the service is ready (or
    fails with the reason, exit 1), which is what ``up``'s readiness handshake gives netlab, without a script
    having to poll for the port. The child leaves the session (``setsid``) so it outlives the script, and
    lives in the node's namespace, where ``ip netns pids`` finds it to stop it.
    """
    import argparse

    from pydantic import TypeAdapter, ValidationError

    from netlab.features.services.model import SERVICE_KINDS, AnyService, Service, spec_of

    parser = argparse.ArgumentParser(
        prog="python3 -m netlab.features.services.server",
        description="Run one netlab service (tcp-echo, udp-echo, discard, http) in the current network namespace; it "
                    "goes to the background once it listens.")
    parser.add_argument("--node", required=True, help="the node it runs in (http answers name it)")
    parser.add_argument("--kind", required=True, choices=SERVICE_KINDS)
    parser.add_argument("--name", help="default: the kind")
    parser.add_argument("--address", help="address to listen on (default 0.0.0.0); bound with IP_FREEBIND")
    parser.add_argument("--port", type=int, help="default: 7 for the echoes, 9 for discard, 80 for http")
    parser.add_argument("--body", help="http: the body of every answer (default: the node's name and a newline)")
    parser.add_argument("--log", help="append the log here (default: stdout in the foreground, else nowhere)")
    parser.add_argument("--foreground", action="store_true", help="serve in this process")
    args = parser.parse_args(argv)
    raw = {"kind": args.kind, "name": args.name, "address": args.address, "port": args.port, "body": args.body}
    try:
        service: AnyService = TypeAdapter(Service).validate_python({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        parser.error("; ".join(f"--{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()))
    spec = spec_of(args.node, service)
    try:
        sock = listen(spec)
        out = os.open(args.log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644) \
            if args.log or not args.foreground else 1
    except OSError as exc:
        sys.stderr.write(f"{spec.describe()}: {exc.strerror or exc}\n")
        return 1
    if not args.foreground:
        if os.fork() != 0:
            return 0  # the service listens; the child serves it
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    if out != 1:
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
    set_name(spec)
    log(f"{spec.kind} {spec.name} of node {spec.node} listening on {spec.protocol} {spec.address}:{spec.port} "
        f"(pid {os.getpid()})")
    Server(spec, sock).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
