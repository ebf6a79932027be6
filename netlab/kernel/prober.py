"""The kernel feature probes themselves, run inside the scratch namespace netlab.kernel.features forks.

Each probe does the real thing ``up`` would do -- create a ``gre`` link, add a netem qdisc, add an IPVS service
with a given scheduler, load an iptables rule -- and answers (available, how it was tried, what to do).
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import struct
import subprocess
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from netlab.core import catalog
from netlab.kernel import tools
from netlab.kernel.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, NLMSG_ERROR, NLMSG_HDR, nla

Result = tuple[bool, str, str]
"""(available, how it was tried and what the kernel answered, the remedy when not)."""

# Scratch addresses only ever exist inside the throwaway namespace.
_LOCAL4, _REMOTE4 = "198.51.100.1", "198.51.100.2"
_LOCAL6, _REMOTE6 = "2001:db8::1", "2001:db8::2"
_VIP, _VPORT = "198.51.100.10", 80

_VM_HINT = "run the lab inside a full kernel with `netlab vm` (docs/vm.md)"


def errno_text(code: int) -> str:
    """``Operation not supported (EOPNOTSUPP)``: the words a user knows plus the name to search for."""
    name = "EOPNOTSUPP" if code == errno.EOPNOTSUPP else errno.errorcode.get(code, str(code))
    return f"{os.strerror(code)} ({name})"


class Prober:
    """The probes, run inside the scratch namespace. Each returns (available, how, detail).

    Answers are cached per feature because probes depend on each other (vlan needs the veth, tunl0 needs
    ipip, schedulers need ip_vs) and a second ``link add`` of the same name would answer EEXIST.
    """

    def __init__(self, mode: str) -> None:
        from pyroute2 import IPRoute

        self.mode = mode
        self.ipr = IPRoute()
        self.veth_ends: dict[str, int] = {}
        self.ipvs_socket: Any = None
        self.done: dict[str, Result] = {}
        self.probes: dict[str, Callable[[], Result]] = {
            "netns": lambda: (True, f"{self.mode} succeeded", ""),
            "veth": self.probe_veth,
            "bridge": lambda: self.probe_link("bridge", "bridge", {}),
            "vxlan": lambda: self.probe_link("vxlan", "vxlan", {"vxlan_id": 42, "vxlan_port": 4789}),
            "geneve": lambda: self.probe_link(
                "geneve", "geneve", {"geneve_id": 42, "geneve_remote": _REMOTE4}
            ),
            "macvlan": lambda: self.probe_lower("macvlan", "macvlan", "nlp-v0", {"macvlan_mode": "bridge"}),
            "ipvlan": lambda: self.probe_lower("ipvlan", "ipvlan", "nlp-v1", {"ipvlan_mode": 0}),
            "vlan": lambda: self.probe_lower("vlan", "vlan", "nlp-v0", {"vlan_id": 10}),
            "gre": lambda: self.probe_link("gre", "gre", {"gre_local": _LOCAL4, "gre_remote": _REMOTE4}),
            "gretap": lambda: self.probe_link(
                "gretap", "gretap", {"gre_local": _LOCAL4, "gre_remote": _REMOTE4}
            ),
            "ip6gre": lambda: self.probe_link(
                "ip6gre", "ip6gre", {"ip6gre_local": _LOCAL6, "ip6gre_remote": _REMOTE6}
            ),
            "ipip": lambda: self.probe_link("ipip", "ipip", {"ipip_local": _LOCAL4, "ipip_remote": _REMOTE4}),
            "sit": lambda: self.probe_link("sit", "sit", {"sit_local": _LOCAL4, "sit_remote": _REMOTE4}),
            "tunl0": self.probe_tunl0,
            "dummy": lambda: self.probe_link("dummy", "dummy", {}),
            "netem": self.probe_netem,
            "tbf": self.probe_tbf,
            "fq": lambda: self.probe_root_qdisc("fq"),
            "fq_codel": lambda: self.probe_root_qdisc("fq_codel"),
            "tcp_bbr": self.probe_bbr,
            "ip_vs": self.probe_ipvs,
            "iptables": self.probe_iptables,
            "br_netfilter": self.probe_br_netfilter,
            **{f"cgroup2_{c}": functools.partial(self.probe_cgroup2, c) for c in ("cpu", "memory", "pids")},
            "nftables": self.probe_nftables,
        }
        for sched in catalog.IPVS_SCHEDULERS:
            self.probes[f"ip_vs_{sched}"] = functools.partial(self.probe_scheduler, sched)

    def get(self, name: str) -> Result:
        if name not in self.done:
            try:
                self.done[name] = self.probes[name]()
            except Exception as exc:  # one broken probe must not hide the other answers
                self.done[name] = (False, f"probe raised {type(exc).__name__}: {exc}", "")
        return self.done[name]

    def run(self, names: Sequence[str]) -> dict[str, Result]:
        return {name: self.get(name) for name in names}

    # -- links

    def _add_link(self, ifname: str, kind: str, attrs: dict[str, Any]) -> int:
        """0 on success, else the errno the kernel answered."""
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            self.ipr.link("add", ifname=ifname, kind=kind, **attrs)
        except NetlinkError as exc:
            return int(exc.code)
        return 0

    def _link_result(self, feature: str, kind: str, code: int, what: str) -> Result:
        how = f"{what} in a scratch netns: " + ("created" if code == 0 else errno_text(code))
        if code == 0:
            return True, how, ""
        module = catalog.module_of(feature) or kind
        if code == errno.EOPNOTSUPP:
            detail = f"this kernel has no '{kind}' link type and could not load module {module}; {_VM_HINT}"
        else:
            detail = f"the kernel refused to create a {kind} link"
        return False, how, detail

    def probe_link(self, feature: str, kind: str, attrs: dict[str, Any]) -> Result:
        code = self._add_link(f"nlp-{feature}"[:15], kind, attrs)
        return self._link_result(feature, kind, code, f"ip link add type {kind}")

    def probe_veth(self) -> Result:
        code = self._add_link("nlp-v0", "veth", {"peer": "nlp-v1"})
        if code == 0:
            for end in ("nlp-v0", "nlp-v1"):
                self.veth_ends[end] = int(self.ipr.link_lookup(ifname=end)[0])
        return self._link_result("veth", "veth", code, "ip link add type veth")

    def probe_lower(self, feature: str, kind: str, parent: str, attrs: dict[str, Any]) -> Result:
        """macvlan, ipvlan and vlan need a parent link: one of the probe's veth ends.

        ipvlan gets the other end than macvlan: one device cannot carry both (the kernel answers EBUSY).
        """
        ok, how, _ = self.get("veth")
        if not ok or parent not in self.veth_ends:
            return False, f"not tested: {kind} needs a parent link, and {how}", ""
        code = self._add_link(f"nlp-{kind}", kind, {"link": self.veth_ends[parent], **attrs})
        return self._link_result(feature, kind, code, f"ip link add link {parent} type {kind}")

    def probe_tunl0(self) -> Result:
        """tunl0 appears in each namespace once ipip is loaded (unless fb_tunnels_only_for_init_net=1)."""
        ipip_ok, ipip_how, ipip_detail = self.get("ipip")
        if not ipip_ok:
            return False, f"no ipip: {ipip_how}", ipip_detail
        if self.ipr.link_lookup(ifname="tunl0"):
            return True, "ipip link created; tunl0 present in the scratch netns", ""
        return (
            False,
            "ipip link created but no tunl0 in the scratch netns",
            "sysctl net.core.fb_tunnels_only_for_init_net is probably 1: set it to 0 for IPVS tunnel mode",
        )

    def probe_netem(self) -> Result:
        from pyroute2.netlink.exceptions import NetlinkError

        ok, how, _ = self.get("veth")
        if not ok or "nlp-v0" not in self.veth_ends:
            return False, f"not tested: netem needs a link, and {how}", ""
        try:
            self.ipr.tc("add", "netem", self.veth_ends["nlp-v0"], delay=1000)
        except NetlinkError as exc:
            code = int(exc.code)
            return (
                False,
                f"tc qdisc add dev nlp-v0 root netem delay 1ms in a scratch netns: {errno_text(code)}",
                f"this kernel has no netem qdisc (module sch_netem); {_VM_HINT}",
            )
        return True, "tc qdisc add dev nlp-v0 root netem delay 1ms in a scratch netns: added", ""

    def probe_tbf(self) -> Result:
        from pyroute2.netlink.exceptions import NetlinkError

        ok, how, _ = self.get("veth")
        if not ok or "nlp-v1" not in self.veth_ends:
            return False, f"not tested: tbf needs a link, and {how}", ""
        what = "tc qdisc add dev nlp-v1 root tbf rate 1mbit burst 1600 limit 3000 in a scratch netns"
        try:
            self.ipr.tc("add", "tbf", self.veth_ends["nlp-v1"], rate="1mbit", burst=1600, limit=3000)
        except NetlinkError as exc:
            return False, f"{what}: {errno_text(int(exc.code))}", f"this kernel has no tbf qdisc (module sch_tbf); " \
                f"{_VM_HINT}"
        return True, f"{what}: added", ""

    def probe_root_qdisc(self, kind: str) -> Result:
        """``tc qdisc replace dev nlp-v0 root KIND`` with the kernel's defaults (replace: netem's probe may have
        put its qdisc there)."""
        from pyroute2.netlink.exceptions import NetlinkError

        ok, how, _ = self.get("veth")
        if not ok or "nlp-v0" not in self.veth_ends:
            return False, f"not tested: {kind} needs a link, and {how}", ""
        what = f"tc qdisc replace dev nlp-v0 root {kind} in a scratch netns"
        try:
            self.ipr.tc("replace", kind, self.veth_ends["nlp-v0"])
        except NetlinkError as exc:
            return False, f"{what}: {errno_text(int(exc.code))}", f"this kernel has no {kind} qdisc (module " \
                f"sch_{kind}); {_VM_HINT}"
        return True, f"{what}: added", ""

    def probe_bbr(self) -> Result:
        """A socket asking for BBR: a full kernel loads tcp_bbr on that request (as for any congestion control)."""
        import socket

        what = "setsockopt(TCP_CONGESTION, \"bbr\") on a TCP socket"
        with socket.socket() as s:
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bbr")
            except OSError as exc:
                return False, f"{what}: {errno_text(exc.errno or 0)}", f"this kernel has no BBR (module tcp_bbr); " \
                    f"{_VM_HINT}"
        return True, f"{what}: accepted", ""

    # -- IPVS

    def _ipvs_family(self) -> tuple[Any, int]:
        """An IPVS generic-netlink socket, or (None, errno). The family exists only once ip_vs is loaded."""
        from pyroute2 import IPVS
        from pyroute2.netlink.exceptions import NetlinkError

        sock = None
        try:
            sock = IPVS()
            sock.service("dump")
        except NetlinkError as exc:
            if sock is not None:
                sock.close()
            return None, int(exc.code)
        return sock, 0

    def probe_ipvs(self) -> Result:
        sock, code = self._ipvs_family()
        how = "resolve generic-netlink family IPVS and dump services in a scratch netns: "
        loaded = ""
        can_load = os.path.exists("/proc/modules")  # absent when the kernel has no module support
        if sock is None and code == errno.ENOENT and can_load and tools.which("modprobe"):
            # Kernels without the genetlink alias for ip_vs: do what ipvsadm does. Harmless if absent.
            subprocess.run(
                ["modprobe", "-q", "ip_vs"],
                env={**os.environ, "PATH": tools.sbin_path()},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=20,
            )
            loaded = " (after `modprobe -q ip_vs`)"
            sock, code = self._ipvs_family()
        if sock is None:
            if not can_load:
                loaded = "; this kernel cannot load modules (no /proc/modules)"
            return (
                False,
                how + errno_text(code) + loaded,
                f"this kernel has no IPVS (CONFIG_IP_VS, module ip_vs); {_VM_HINT}",
            )
        self.ipvs_socket = sock
        return True, how + "ok" + loaded, ""

    def probe_scheduler(self, sched: str) -> Result:
        from pyroute2 import IPVSService
        from pyroute2.netlink.exceptions import NetlinkError

        ok, how, detail = self.get("ip_vs")
        if not ok:
            return False, f"not tested: no IPVS ({how})", detail
        service = IPVSService(addr=_VIP, port=_VPORT, protocol=socket.IPPROTO_TCP, sched_name=sched)
        what = f"ipvsadm -A -t {_VIP}:{_VPORT} -s {sched} (IPVS genetlink) in a scratch netns: "
        try:
            self.ipvs_socket.service("add", service=service)
        except NetlinkError as exc:
            code = int(exc.code)
            return (
                False,
                what + errno_text(code),
                f"scheduler module ip_vs_{sched} is missing or cannot be loaded",
            )
        self.ipvs_socket.service("del", service=service)
        return True, what + "added", ""

    # -- netfilter

    def probe_iptables(self) -> Result:
        """What ``up`` will really use: the first iptables-restore that loads a rule in a scratch namespace
        (netlab.features.iptables.kernel.detect_backend). Listing tables is not enough: the nf_tables build lists
        them on kernels where it cannot load one, and netlab then falls back to iptables-legacy."""
        from netlab.kernel.iptables import NoBackend, detect_backend

        try:
            backend = detect_backend()
        except NoBackend as exc:
            return False, str(exc), "apt-get install iptables (it ships iptables-legacy too)"
        return True, f"{backend.how}: {backend.restore}", ""

    def probe_br_netfilter(self) -> Result:
        """Its sysctls exist in a namespace only once the module is loaded; nothing here loads it (no netlink
        request autoloads br_netfilter: dockerd and kube-proxy run modprobe themselves)."""
        path = "/proc/sys/net/bridge/bridge-nf-call-iptables"
        if os.path.exists(path):
            return True, f"{path} present in a scratch netns", ""
        return False, f"no {path} in a scratch netns", "br_netfilter is not loaded: modprobe br_netfilter"

    def probe_cgroup2(self, controller: str) -> Result:
        """A cgroup2 mount whose root lists ``controller`` in cgroup.controllers (a hybrid machine's unified
        hierarchy lists none: its controllers are bound to cgroup v1)."""
        from netlab.kernel.cgroup import cgroup2_mounts, controllers

        mounts = cgroup2_mounts()
        for mount in mounts:
            if controller in controllers(mount):
                return True, f"{mount}: {controller} controller available", ""
        at = ", ".join(map(str, mounts))
        where = f"cgroup2 at {at} lists no {controller} controller" if mounts else "no cgroup2 mount"
        return False, where, "a cgroup v1 (or hybrid) machine: run the lab in the VM (netlab vm run), which mounts v2"

    def probe_nftables(self) -> Result:
        """Create a table in one nf_tables batch, as ``nft add table`` does: answering NFT_MSG_GETGEN is not
        enough (Debian's UML kernel answers it, then refuses every table with EOPNOTSUPP)."""
        netlink_netfilter, subsys, msg_newtable = 12, 10, 0
        batch_begin, batch_end = 0x10, 0x11
        request, ack, create = NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE

        def message(mtype: int, flags: int, seq: int, family: int, res_id: int, attrs: bytes = b"") -> bytes:
            body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + attrs
            return NLMSG_HDR.pack(16 + len(body), mtype, flags, seq, 0) + body

        attr = nla(1, b"netlab_probe\0")  # NFTA_TABLE_NAME
        batch = (message(batch_begin, request, 1, socket.AF_UNSPEC, subsys)
                 + message((subsys << 8) | msg_newtable, request | ack | create, 2, socket.AF_INET, 0, attr)
                 + message(batch_end, request, 3, socket.AF_UNSPEC, subsys))
        what = "nf_tables batch adding a table in a scratch netns: "
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, netlink_netfilter) as sock:
            sock.settimeout(5)
            sock.send(batch)
            for message_type, error in _netlink_messages(_recv_until_ack(sock)):
                if message_type == NLMSG_ERROR and error != 0:
                    return (
                        False,
                        what + errno_text(-error),
                        "this kernel's nf_tables cannot add a table (CONFIG_NF_TABLES, nf_tables module); "
                        "iptables labs use iptables-legacy here",
                    )
        return True, what + "ok", ""


def _recv_until_ack(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        data += chunk
        if not chunk or any(t == NLMSG_ERROR for t, _ in _netlink_messages(data)):
            return data


def _netlink_messages(data: bytes) -> Iterable[tuple[int, int]]:
    """(type, error) of each netlink message in ``data``; error is the NLMSG_ERROR code, else 0."""
    offset = 0
    while offset + 16 <= len(data):
        length, message_type = struct.unpack_from("=IH", data, offset)
        error = struct.unpack_from("=i", data, offset + 16)[0] if message_type == NLMSG_ERROR else 0
        yield message_type, error
        if length < 16:
            return
        offset += (length + 3) & ~3
