"""A lab without IPv6 sends no IPv6 frame: its interfaces come up with address generation mode none.

Why this is proved on the wire: netlab no longer turns IPv6 off per namespace (that /proc/sys write costs
O(namespaces) each, see netlab.kernel.proc); it keeps IPv6 on and gives every interface it brings up no
link-local address, and without one Linux sends no duplicate address detection, router solicitation or MLD
report. An interface that slipped through (a feature's device, a veth's far end, a bridge) would send them
within its first second up, so every namespace of the lab is listened to from the moment the namespaces exist
(one unbound AF_PACKET socket each, opened from apply's progress callback, before any interface is made) until
three seconds after ``up``; a ping across the bridge and the router during that time is the positive control
that the listening works. Also pinned: the kernel behaviour that decides where the mode is sent
(:func:`netlab.kernel.rtnl.no_link_local`), and that an interface whose IPv6 a sysctl of the lab sets is left
to it.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.kernel.netns import setns
from netlab.model.plan import CreateBridge
from tests.helpers import assert_nothing_left, catalog_copy, down, running, write_lab

pytestmark = pytest.mark.root

ETH_P_ALL = 0x0003
ETH_P_IPV6 = 0x86DD
ETH_P_IP = 0x0800
LISTEN = 3.0
"""Seconds to listen after ``up``: DAD's probe, the first router solicitation and MLD's unsolicited reports
all leave within about a second of an interface with a link-local address coming up."""

TOPOLOGY = """\
name: v6silent
nodes:
  h1: {routes: [{to: default, via: 10.0.0.254}]}
  h2: {}
  r: {sysctls: {net.ipv4.ip_forward: 1}}
  h3: {routes: [{to: default, via: 10.0.1.1}]}
lans:
  lan1:
    members:
      - {node: h1, address: 10.0.0.1/24}
      - {node: h2, address: 10.0.0.2/24}
      - {node: r, address: 10.0.0.254/24}
links:
  - {a: {node: r, address: 10.0.1.1/24}, b: {node: h3, address: 10.0.1.2/24}}
"""


def _sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout


class Listener:
    """One unbound ETH_P_ALL socket per namespace: every frame any of its interfaces sends or receives."""

    def __init__(self) -> None:
        self.socks: dict[str, socket.socket] = {}

    def open(self, namespaces: list[str]) -> None:
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            for ns in namespaces:
                fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    setns(fd)
                    self.socks[ns] = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
                finally:
                    os.close(fd)
                    setns(home)
        finally:
            os.close(home)

    def drain(self, seconds: float) -> dict[int, list[str]]:
        """Ethertype → the ``namespace:interface`` of every frame seen in the next ``seconds``."""
        seen: dict[int, list[str]] = {}
        names = {sock.fileno(): ns for ns, sock in self.socks.items()}
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select(list(self.socks.values()), [], [], left)
            for sock in ready:
                frame, (ifname, *_rest) = sock.recvfrom(65535)
                seen.setdefault(int.from_bytes(frame[12:14], "big"), []).append(f"{names[sock.fileno()]}:{ifname}")
        return seen

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()


@contextmanager
def _listened(path: Path) -> Iterator[tuple[Lab, Listener]]:
    """The lab up, listened to from the moment its namespaces exist; down (with the leak check) after."""
    lab = Lab.load(path)
    listener = Listener()

    def progress(phase: str, done: int, _total: int) -> None:
        if phase != "netns" and not listener.socks:  # the namespaces exist; no interface but lo does yet
            listener.open(list(lab.plan().namespaces))

    try:
        lab.up(progress=progress)
        try:
            assert listener.socks, "apply never reported a phase after the namespaces"
            yield lab, listener
        finally:
            down(lab)
    finally:
        listener.close()


@pytest.mark.parametrize(("lab", "ping"), [
    ("v6silent", ("h1", "10.0.1.2", 4)),  # a LAN's bridge, a router, a point-to-point veth
    ("vxlan-overlay", ("h1", "10.10.0.12", 4)),  # bridges inside nodes, vxlan devices, an underlay router
])
def test_a_lab_without_ipv6_sends_no_ipv6_frame_and_still_forwards_ipv4(lab: str, ping: tuple[str, str, int],
                                                                         tmp_path: Path) -> None:
    name = f"{lab[:8]}-v6"
    path = write_lab(tmp_path, TOPOLOGY.replace("name: v6silent", f"name: {name}")) if lab == "v6silent" else \
        catalog_copy(tmp_path, lab, name)
    source, target, hops = ping
    with _listened(path) as (up, listener):
        pinger = subprocess.Popen(["ip", "netns", "exec", f"nl-{name}.{source}", "ping", "-c", "3", "-i", "0.5", "-W",
                                   "2", target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen = listener.drain(LISTEN)
        assert pinger.wait(timeout=10) == 0, pinger.stdout.read() if pinger.stdout else ""
        namespaces = list(up.plan().namespaces)
        bridges = {(a.netns, a.name) for a in up.plan().actions if isinstance(a, CreateBridge)}
        links = {ns: _sh("ip", "-n", ns, "-d", "-o", "link", "show") for ns in namespaces}
        off = {b: _sh("ip", "netns", "exec", b[0], "cat", f"/proc/sys/net/ipv6/conf/{b[1]}/disable_ipv6").strip()
               for b in bridges}
        inet6 = {ns: _sh("ip", "netns", "exec", ns, "cat", "/proc/net/if_inet6").split() for ns in namespaces}
    assert seen.get(ETH_P_IPV6, []) == [], "IPv6 frames on the lab's interfaces"
    assert len(seen.get(ETH_P_IP, [])) >= 3 * 2 * hops, seen.keys()  # the echoes and replies: we did listen
    assert bridges and set(off.values()) == {"1"}, off
    for ns, text in links.items():
        rows = {row.split(":")[1].strip().split("@")[0]: row for row in text.splitlines()}
        others = [row for ifname, row in rows.items() if ifname != "lo" and (ns, ifname) not in bridges]
        assert others and all(" addrgenmode none " in row for row in others), (ns, text)
    # /proc/net/if_inet6: address, ifindex, prefix length, scope, flags, name per line: lo's ::1, nothing else
    assert {ns: [words[i] for i in range(0, len(words), 6)] for ns, words in inet6.items()} == {
        ns: ["00000000000000000000000000000001"] for ns in namespaces}
    assert_nothing_left(name)


def test_an_interface_whose_ipv6_a_sysctl_turns_on_keeps_its_link_local_address(tmp_path: Path) -> None:
    """``ipv6.disable_ipv6: 0`` on an interface asks for IPv6 there, link-local included (as before netlab kept
    IPv6 silent rather than off); the other interfaces of the lab stay silent."""
    text = TOPOLOGY.replace("{node: h2, address: 10.0.0.2/24}",
                            "{node: h2, address: 10.0.0.2/24, sysctls: {ipv6.disable_ipv6: 0}}")
    with running(write_lab(tmp_path, text)):
        end = time.monotonic() + 3  # the link-local address is added once linkwatch sees the carrier
        while " fe80::" not in (h2 := _sh("ip", "-n", "nl-v6silent.h2", "-6", "-o", "addr", "show", "dev", "eth0")) \
                and time.monotonic() < end:
            time.sleep(0.1)
        h1 = _sh("ip", "-n", "nl-v6silent.h1", "-6", "-o", "addr", "show", "dev", "eth0")
    assert " fe80::" in h2 and h1 == ""
    assert_nothing_left("v6silent")


@pytest.fixture
def namespace() -> Iterator[str]:
    names = (f"v6mode-{os.getpid()}",)
    for ns in names:
        _sh("ip", "netns", "add", ns)
    try:
        yield names[0]
    finally:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def test_the_kernel_takes_the_mode_only_before_the_up_message(namespace: str) -> None:
    """Why netlab sends the mode as a message of its own: refused in a create (the device has no IPv6 state yet),
    and in the message that sets IFF_UP applied after the flags, when an interface with carrier already has its
    link-local address. If a kernel changes either, this fails and the extra message can be folded in."""
    a = namespace
    refused = subprocess.run(["ip", "-n", a, "link", "add", "br9", "addrgenmode", "none", "type", "bridge"],
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "not supported" in refused.stderr
    # a vxlan device is "up" for addrconf at once (no carrier to wait for; a veth waits for linkwatch: a race)
    vxlan = ("type", "vxlan", "dstport", "4789", "id")
    _sh("ip", "-n", a, "link", "add", "vx0", *vxlan, "42")
    _sh("ip", "-n", a, "link", "set", "vx0", "addrgenmode", "none", "up")
    assert "addrgenmode none" in _sh("ip", "-n", a, "-d", "link", "show", "vx0")
    assert " fe80::" in _sh("ip", "-n", a, "-6", "-o", "addr", "show", "dev", "vx0")  # too late: it has one
    # the way netlab does it: the mode in a message of its own, then up
    _sh("ip", "-n", a, "link", "add", "vx1", *vxlan, "43")
    _sh("ip", "-n", a, "link", "set", "vx1", "addrgenmode", "none")
    _sh("ip", "-n", a, "link", "set", "vx1", "up")
    assert _sh("ip", "-n", a, "-6", "-o", "addr", "show", "dev", "vx1") == ""
