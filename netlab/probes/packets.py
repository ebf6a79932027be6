"""Packet sockets, BPF filters and pcap files: what the sniffers and the ARP asker need, without scapy.

A sniffer here is an ``AF_PACKET`` socket, which is exactly what tcpdump and scapy use underneath. It is
opened with protocol 0 (it receives nothing yet), gets its BPF program attached, and only then is
bound to its interface and protocol: from the moment ``bind`` returns, every matching packet is
queued for us, and nothing that does not match ever was. That moment is what a sniffer reports as
"listening", so senders never start before their observers.

BPF programs are compiled by libpcap (``pcap_compile`` on a "dead" handle, through ctypes): the same
compiler tcpdump uses, no process to start and no interface to open. Timestamps are the kernel's
(``SO_TIMESTAMP``), so the pcap files show real timings even when a batch is read at once.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from netlab.core.frozen import frozen

ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
SOL_SOCKET = 1
SO_ATTACH_FILTER = 26
SO_TIMESTAMP = 29
SO_RCVBUFFORCE = 33
SIOCGIFHWADDR = 0x8927
PACKET_OUTGOING = 4
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
DLT_EN10MB = 1
DLT_RAW = 12
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
MAX_FRAME = 65535
RCVBUF = 8 << 20


class LibpcapMissing(Exception):
    """libpcap (Debian: libpcap0.8, installed with tcpdump) is not on this machine."""


class BpfError(Exception):
    """libpcap refused a filter expression; the message is libpcap's."""


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.c_void_p)]


def _libpcap_names() -> Iterator[str]:
    yield "libpcap.so.1"
    yield "libpcap.so.0.8"
    from ctypes.util import find_library  # asked only when the sonames above are not there

    name = find_library("pcap")
    if name:
        yield name


def _libpcap() -> ctypes.CDLL:
    """libpcap through ctypes. dlopen of a library already loaded is a lookup, so no cache is kept. The sonames
    Debian and others ship first: ``find_library`` runs ``ldconfig -p`` in a child each time (and imports
    tempfile), so it is only the last resort."""
    for candidate in _libpcap_names():
        try:
            lib = ctypes.CDLL(candidate)
        except OSError:
            continue
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p, ctypes.c_int,
                                     ctypes.c_uint32]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
        lib.pcap_close.argtypes = [ctypes.c_void_p]
        return lib
    raise LibpcapMissing("libpcap is not installed (apt-get install libpcap0.8, or tcpdump which pulls it in)")


def compile_bpf(expr: str, dlt: int) -> bytes:
    """The BPF program for a tcpdump-style filter, as the kernel's ``struct sock_filter`` array."""
    lib = _libpcap()
    handle = lib.pcap_open_dead(dlt, 262144)
    if not handle:
        raise BpfError("libpcap could not open a compiler handle")
    prog = _BpfProgram()
    try:
        if lib.pcap_compile(handle, ctypes.byref(prog), expr.encode(), 1, PCAP_NETMASK_UNKNOWN) != 0:
            raise BpfError((lib.pcap_geterr(handle) or b"syntax error").decode(errors="replace"))
        try:
            return ctypes.string_at(prog.bf_insns, prog.bf_len * 8)
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(handle)


def attach_bpf(sock: socket.socket, program: bytes) -> None:
    """``SO_ATTACH_FILTER``: the kernel copies the program, so the buffer may go right after."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buf))
    sock.setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def interface_info(ifname: str) -> tuple[int, bytes]:
    """(ARPHRD type, hardware address) of an interface of the current namespace; OSError if none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        res = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, struct.pack("16s16x", ifname.encode()))
    hatype = struct.unpack_from("H", res, 16)[0]
    return int(hatype), bytes(res[18:24])


def dlt_for(hatype: int) -> tuple[int, int]:
    """(DLT to compile a filter for, LINKTYPE for the pcap file) of an interface type: Ethernet-like
    devices (veth, bridge, lo) carry an Ethernet header, tunnels (ipip, gre, sit) raw IP."""
    if hatype in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
        return DLT_EN10MB, LINKTYPE_ETHERNET
    return DLT_RAW, LINKTYPE_RAW


@frozen
class Frame:
    """One captured packet as the kernel handed it over."""

    time: float
    ifname: str
    pkttype: int
    """PACKET_HOST, PACKET_BROADCAST, ... ; PACKET_OUTGOING (4) for packets the interface sent."""
    hatype: int
    protocol: int
    address: bytes
    """Link-layer source address (as in ``struct sockaddr_ll``)."""
    data: bytes

    @property
    def outgoing(self) -> bool:
        return self.pkttype == PACKET_OUTGOING


class PacketSocket:
    """An ``AF_PACKET`` socket, bound only once its filter is attached (see the module docstring).

    ``raw``: frames with their link-layer header (what filters and dissectors expect); otherwise the
    "cooked" form (network-layer packet plus ``sockaddr_ll``), used to capture every interface of a
    namespace at once in one LINUX_SLL pcap.
    """

    def __init__(self, ifname: str | None, protocol: int = ETH_P_ALL, program: bytes | None = None,
                 raw: bool = True) -> None:
        # Bound to one interface: created deaf (protocol 0), filtered, then bound. Every interface of the
        # namespace: Python cannot bind to "ifindex 0", so the socket listens from creation; anything it
        # queued before its filter was attached is read and dropped.
        kind = socket.SOCK_RAW if raw else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_PACKET, kind, 0 if ifname else socket.htons(protocol))
        self.frames: list[Frame] = []
        self.limit = 100_000
        try:
            try:
                self.sock.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            except OSError:
                self.sock.setsockopt(SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            self.sock.setsockopt(SOL_SOCKET, SO_TIMESTAMP, 1)
            if program is not None:
                attach_bpf(self.sock, program)
            if ifname:
                self.sock.bind((ifname, protocol))
            elif program is not None:
                self.read_ready()
                self.frames.clear()
        except BaseException:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def read_ready(self) -> int:
        """Read every packet queued now, without blocking. Returns how many were read."""
        n = 0
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(MAX_FRAME, 64, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return n
            stamp = time.time()
            for level, kind, payload in anc:
                if level == SOL_SOCKET and kind == SO_TIMESTAMP and len(payload) >= 16:
                    sec, usec = struct.unpack_from("qq", payload)
                    stamp = sec + usec / 1e6
            if len(self.frames) < self.limit:
                self.frames.append(Frame(stamp, str(addr[0]), int(addr[2]), int(addr[3]), int(addr[1]),
                                         bytes(addr[4]), data))
            n += 1

    def read_until_quiet(self, quiet: float, deadline: float) -> None:
        """Keep reading until no packet has come for ``quiet`` seconds (or ``deadline`` passes)."""
        while True:
            self.read_ready()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.sock], [], [], min(quiet, left))
            if not ready:
                return

    def close(self) -> None:
        self.sock.close()

    def leave_open(self) -> None:
        """Let process exit close the socket, after the child has sent its result.

        Closing a packet socket waits for an RCU grace period (``synchronize_net`` in the kernel's
        ``packet_release``): 5-20 ms, which would otherwise sit inside every probe's time. Probe children
        call this when they are done reading, and exit right after answering.
        """
        self.sock.detach()


# ---------------------------------------------------------------------------------- pcap files

def sll_bytes(frame: Frame) -> bytes:
    """A cooked frame as LINKTYPE_LINUX_SLL: 16-byte pseudo header, then the network-layer packet."""
    addr = frame.address[:8]
    return struct.pack("!HHH8sH", frame.pkttype, frame.hatype, len(addr), addr.ljust(8, b"\0"),
                       frame.protocol) + frame.data


def write_pcap(path: Path, linktype: int, records: Iterable[tuple[float, bytes]]) -> Path:
    """A classic pcap file (readable by tcpdump -r, Wireshark, scapy's rdpcap)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # never through a symlink: the default directory is under the run directory, written as root
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for stamp, data in records:
            sec = int(stamp)
            f.write(struct.pack("=IIII", sec, int((stamp - sec) * 1e6), len(data), len(data)))
            f.write(data)
    return path
