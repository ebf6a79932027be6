"""What the Linux kernel refuses that the shape of a topology cannot show: limits, reserved names and the
sysctls of a network namespace. Pure data and pure functions; nothing here touches the kernel.

Why a module of its own: every limit here is a fact about the kernel, with the kernel's reason, that
validation turns into an error *before* anything is created (the alternative is `up` failing half-way,
rolled back, with the kernel's errno as the only explanation). Each fact was checked against a real kernel
(6.18) in a throwaway namespace; the sysctl table is generated from one (:mod:`netns_sysctls`, made by
``scripts/gen-netns-sysctls``, re-checked by a root-marked test).

**Sysctls: when is an unknown key an error?** Only when we are sure. A key under a part of the tree that
is built into the kernel (``net.core``, ``net.ipv4``, ``net.ipv6``, ``net.unix``, ``net.mptcp``) or whose
module we know whole (``net.ipv4.vs``: IPVS, written by hand below because the development host has no
ip_vs; ``net.bridge``: br_netfilter) and that the table does not have is an error with a "did you mean":
a typo is far likelier than a key this kernel lacks, and ``--check`` notices a kernel that differs. A key
that exists only in the machine's own namespace (``net.core.netdev_max_backlog``) or is read-only in a
child one (``net.core.rmem_max``) is an error too. A key anywhere else (``net.netfilter`` beyond the
conntrack keys, ``net.sctp``, ``net.mpls``…) belongs to a module this table has not seen: it is accepted
without a word, and if the kernel lacks it `up` says so.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping

from netlab.core import netns_sysctls as generated
from netlab.core.frozen import frozen

Intervals = tuple[tuple[int, int], ...]

# ----------------------------------------------------------------------------------------- links, routes

IFNAME_MAX = 15
"""IFNAMSIZ - 1 bytes."""
RESERVED_IFNAMES = ("all", "default")
"""Interface names the kernel refuses (EINVAL): /proc/sys/net/ipv{4,6}/conf/all and …/default are the
namespace-wide settings, so no interface may have a directory of that name there."""
IFNAME_BAD_BYTES = frozenset(b"/: \t\n\v\f\r\xa0")
"""Bytes ``dev_valid_name`` refuses: '/', ':' and what the kernel's ``isspace`` calls white space -- which
includes 0xa0 (Latin-1 no-break space), so any UTF-8 character with an 0xa0 byte ("à" is c3 a0) too."""
BRIDGE_MAX_PORTS = 1023
"""BR_MAX_PORTS is 1024 and port number 0 is reserved: the 1024th port gets EXFULL."""
IPV6_MIN_MTU = 1280
"""Below this MTU the kernel removes IPv6 from an interface (no address, no conf/ sysctls)."""
METRIC_MAX = 2 ** 32 - 1
"""RTA_PRIORITY is a u32."""
IPV6_METRIC_DEFAULT = 1024
"""IP6_RT_PRIO_USER: an IPv6 route written without a metric (or with 0) gets this one."""
IPV6_METRIC_CONNECTED = 256
"""IP6_RT_PRIO_ADDRCONF: the metric of the prefix route the kernel adds for each IPv6 address (and of fe80::/64)."""
DEFAULT_MTU = {"veth": 1500, "bridge": 1500, "gre": 1476, "gretap": 1462, "ipip": 1480, "sit": 1480, "vxlan": 1500,
               "lo": 65536, "tunl0": 1480}
"""MTUs of the interfaces netlab makes when the topology gives none."""


# ----------------------------------------------------------------------------------------- sysctls

GROUPS = ("net.ipv4.conf", "net.ipv6.conf", "net.ipv4.neigh", "net.ipv6.neigh")
"""Per-interface keys: ``<group>.<interface>.<leaf>``; the table has them once per leaf."""
COMPLETE = ("net.core.", "net.ipv4.", "net.ipv6.", "net.unix.", "net.mptcp.", "net.bridge.")
"""Subtrees whose keys the table has whole (see the module docstring): an unknown key there is an error."""

_INT = ((-2 ** 31, 2 ** 31 - 1),)
_JIFFIES = ((-(2 ** 31 - 1) // 250, (2 ** 31 - 1) // 250),)  # seconds, HZ=250 (as Debian's kernel)
IPVS: dict[str, tuple[tuple[Intervals, ...] | None, str | None]] = {
    # HAND-WRITTEN, not generated: the IPVS sysctls (net/netfilter/ipvs/ip_vs_ctl.c, vs_vars[], Linux 6.x),
    # present in a namespace once ip_vs is loaded, with the values their handlers accept.
    # key: (values per number, or None for text; what the values mean when the ranges do not say it)
    "amemthresh": ((_INT,), None),
    "am_droprate": ((_INT,), None),
    "drop_entry": ((((0, 3),),), "0 (off), 1 and 2 (automatic), 3 (always)"),
    "drop_packet": ((((0, 3),),), "0 (off), 1 and 2 (automatic), 3 (always)"),
    "conntrack": ((_INT,), None),
    "secure_tcp": ((((0, 3),),), "0 (off), 1 and 2 (automatic), 3 (always)"),
    "snat_reroute": ((_INT,), None),
    "sync_version": ((((0, 1),),), None),
    "sync_ports": ((tuple((2 ** i, 2 ** i) for i in range(31)),), "a power of two (1, 2, 4, … 2**30)"),
    "sync_persist_mode": ((_INT,), None),
    "sync_qlen_max": ((((0, 2 ** 64 - 1),),), None),
    "sync_sock_size": ((_INT,), None),
    "cache_bypass": ((_INT,), None),
    "expire_nodest_conn": ((_INT,), None),
    "sloppy_tcp": ((_INT,), None),
    "sloppy_sctp": ((_INT,), None),
    "expire_quiescent_template": ((_INT,), None),
    "sync_threshold": ((((0, 2 ** 31 - 1),), ((0, 2 ** 31 - 1),)), "0-2147483647 (two numbers, the first below "
                       "the second, or the second 0)"),
    "sync_refresh_period": ((_JIFFIES,), None),
    "sync_retries": ((((0, 3),),), None),
    "nat_icmp_send": ((_INT,), None),
    "pmtu_disc": ((_INT,), None),
    "backup_only": ((_INT,), None),
    "conn_reuse_mode": ((_INT,), None),
    "schedule_icmp": ((_INT,), None),
    "ignore_tunneled": ((_INT,), None),
    "run_estimation": ((_INT,), None),
    "est_cpulist": (None, None),
    "est_nice": ((((-20, 19),),), "a nice value, -20-19"),
    "lblc_expiration": ((_JIFFIES,), None),  # ip_vs_lblc, once that scheduler is loaded
    "lblcr_expiration": ((_JIFFIES,), None),  # ip_vs_lblcr
}

DOCUMENTED: dict[str, tuple[Intervals, str]] = {
    # HAND-WRITTEN: keys the kernel stores whatever number they get (proc_dointvec) but whose documentation
    # (Documentation/networking/ip-sysctl.rst) gives a few values meaning; any other is a mistake.
    # leaf of net.ipv4.conf / net.ipv6.conf (prefixed "ipv6."): (values, what they mean)
    "rp_filter": (((0, 2),), "0 no source validation, 1 strict, 2 loose (RFC 3704)"),
    "arp_ignore": (((0, 8),), "0 any address, 1 only the receiving interface's, 2 also in its subnet, "
                   "3 not host-scoped, 8 never (4-7 reserved)"),
    "arp_announce": (((0, 2),), "0 any local address, 1 avoid other subnets, 2 the best local address"),
    "arp_accept": (((0, 2),), "0 do not create entries from gratuitous ARP, 1 do, 2 only in the same subnet"),
    "arp_filter": (((0, 1),), "0 or 1"),
    "arp_notify": (((0, 1),), "0 or 1"),
    "force_igmp_version": (((0, 3),), "0 automatic, or IGMP version 1, 2 or 3"),
    "ipv6.accept_ra": (((0, 2),), "0 ignore router advertisements, 1 accept if not forwarding, 2 even if forwarding"),
    "ipv6.force_mld_version": (((0, 2),), "0 automatic, or MLD version 1 or 2"),
}


_BITMAP = r"(?:\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)?"
_KEY = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{8}){3}"
TEXT_FORMATS: dict[str, tuple[str, int | None, str]] = {
    # HAND-WRITTEN: text keys whose format the kernel fixes (checked against it in a namespace):
    # key or per-interface leaf: (pattern, largest number in a list, what to write)
    "net.ipv4.ip_local_reserved_ports": (_BITMAP, 65535, "ports and ranges separated by commas, e.g. 8080,9000-9010"),
    "net.ipv6.icmp.ratemask": (_BITMAP, 255, "ICMPv6 types and ranges separated by commas, e.g. 0-1,3-127"),
    "net.ipv4.tcp_fastopen_key": (f"{_KEY}(?:,{_KEY})?", None, "one or two keys of four 8-digit hex groups, "
                                  "e.g. 00000000-00000000-00000000-00000001"),
}
"""Every other text key (tcp_congestion_control, nf_log.*, mptcp's scheduler…) takes names that depend on the
kernel's modules and configuration: accepted as written."""


@frozen
class Sysctl:
    """One sysctl as the kernel of a network namespace has it."""

    key: str
    writable: bool
    values: tuple[Intervals, ...] | None
    """Per number the key holds, what the kernel accepts; None: free text."""
    sample: str | None
    """Its value in a fresh namespace."""
    origin: str
    """Where the facts come from: the generated table (which kernel) or a hand-written list."""
    meaning: str | None = None
    """What the values mean, when the ranges alone do not say it."""
    documented: bool = False
    """``values`` are the documented ones, narrower than what the kernel stores."""


@frozen
class Refusal:
    """Why a key or value cannot be written in a lab's namespace: a message and a hint."""

    message: str
    hint: str | None = None


def _generated(key: str, entry: tuple[str, tuple[Intervals, ...] | None, str | None]) -> Sysctl:
    mode, values, sample = entry
    return Sysctl(key, mode != "ro", values, sample, f"generated from kernel {generated.KERNEL}")


def find_sysctl(key: str, interfaces: Mapping[str, int]) -> Sysctl | Refusal | None:
    """The sysctl ``key`` of a node whose interfaces are ``interfaces`` (name → MTU when sysctls are
    written; ``lo`` included), a :class:`Refusal` if that namespace cannot have it, or None for a key of a
    module this table does not know (accepted; see the module docstring)."""
    for group in GROUPS:
        if key.startswith(group + "."):
            ifname, dot, leaf = key[len(group) + 1:].rpartition(".")
            if dot and ifname and leaf and (ifname in interfaces or "" not in ifname.split(".")):
                return _per_interface(key, group, ifname, leaf, interfaces)
    parts = key.split(".")
    if "" in parts:
        return Refusal(f"sysctl key {key!r} has an empty part", "a key is names joined by single dots; "
                       "two dots in a row would name a parent directory of /proc/sys/net")
    if key in generated.KEYS:
        return _generated(key, generated.KEYS[key])
    if key.startswith("net.ipv4.vs."):
        found = IPVS.get(key[len("net.ipv4.vs."):])
        if found is not None:
            return Sysctl(key, True, found[0], None, "hand-written list of IPVS's sysctls (ip_vs)", found[1])
        return Refusal(f"IPVS has no sysctl {key!r}", _did_you_mean(key, [f"net.ipv4.vs.{k}" for k in IPVS]))
    if key in generated.ROOT_ONLY:
        return Refusal(f"{key} exists only in the machine's own network namespace",
                       "it is a global setting of the kernel, and a lab never changes the host")
    if key.startswith(COMPLETE):
        known = [*generated.KEYS, *(f"{g}.<ifname>.{leaf}" for g in GROUPS for leaf in generated.LEAVES[g])]
        return Refusal(f"no sysctl {key!r} in a network namespace",
                       _did_you_mean(key, known) or "`netlab exec LAB NODE -- sysctl -a` lists what a node has")
    return None


def _per_interface(key: str, group: str, ifname: str, leaf: str, interfaces: Mapping[str, int]) -> Sysctl | Refusal:
    scopes = ("all", "default", "lo") if group.endswith(".conf") else ("lo",)
    interfaces = {"lo": DEFAULT_MTU["lo"], **interfaces}
    if ifname not in interfaces and ifname not in scopes:
        names = sorted({*interfaces, *scopes})
        if ifname in ("all", "default"):  # neigh: a child namespace has neither
            return Refusal(f"{group}.{ifname} exists only in the machine's own network namespace",
                           f"set it per interface: {group}.<ifname>.{leaf} for each of {', '.join(names)}")
        return Refusal(f"{ifname!r} is not an interface of this node",
                       f"{group}.<ifname>.{leaf}: <ifname> is one of {', '.join(names)}")
    entry = generated.LEAVES[group].get(leaf)
    if entry is None:
        return Refusal(f"no sysctl {leaf!r} in {group}.{ifname}",
                       _did_you_mean(leaf, list(generated.LEAVES[group])) or
                       f"Documentation/networking/ip-sysctl.rst lists the keys of {group.replace('.', '/')}/<ifname>")
    mode, on_if, on_scope, sample, _scopes = entry
    ipv6 = group.startswith("net.ipv6.")
    if ifname in scopes and ifname != "lo":  # all, default
        values, sample = on_scope or on_if, None
    elif ipv6 and interfaces[ifname] < IPV6_MIN_MTU:
        return Refusal(f"{ifname} has no IPv6: its MTU {interfaces[ifname]} is below {IPV6_MIN_MTU}",
                       f"the kernel removes IPv6 (and {group}.{ifname}) from such an interface; "
                       f"raise its MTU to at least {IPV6_MIN_MTU}")
    elif group == "net.ipv6.conf" and leaf == "mtu":
        values = (((IPV6_MIN_MTU, interfaces[ifname]),),)  # up to the interface's own MTU
    elif group == "net.ipv6.conf" and leaf == "addr_gen_mode":
        values = on_scope or on_if  # 0-3 as on `default`: 2 needs a stable secret, which SysctlState checks
    else:
        values = on_if
    documented = DOCUMENTED.get(("ipv6." if ipv6 else "") + leaf) if group.endswith(".conf") else None
    if documented is not None:
        return _documented(key, mode != "ro", sample, documented)
    return Sysctl(key, mode != "ro", values, sample, f"generated from kernel {generated.KERNEL}")


def _documented(key: str, writable: bool, sample: str | None, documented: tuple[Intervals, str]) -> Sysctl:
    return Sysctl(key, writable, (documented[0],), sample, "Documentation/networking/ip-sysctl.rst", documented[1],
                  documented=True)


def conf_leaf(relative: str, ifname: str, interfaces: Mapping[str, int]) -> Sysctl | Refusal:
    """An interface's own ``sysctls:`` key (``rp_filter``, ``ipv6.accept_ra``): relative to
    ``net.ipv4.conf.<ifname>.`` or, prefixed ``ipv6.``, to ``net.ipv6.conf.<ifname>.``."""
    group, leaf = ("net.ipv6.conf", relative[5:]) if relative.startswith("ipv6.") else ("net.ipv4.conf", relative)
    if not leaf or "." in leaf or "/" in leaf:
        return Refusal(f"per-interface sysctl {relative!r} is not a conf key",
                       "write keys relative to net.ipv4.conf.<ifname>. (e.g. rp_filter), or ipv6.<key>")
    return _per_interface(f"{group}.{ifname}.{leaf}", group, ifname, leaf, interfaces)


def _did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f"did you mean {close[0]!r}?" if close else None


# ----------------------------------------------------------------------------------------- values

_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)")


def numbers(value: int | str) -> list[int] | Refusal:
    """The numbers a value writes: an integer, or a string of them separated by white space."""
    if isinstance(value, int):
        return [value]
    words = value.split()
    if not words:
        return Refusal("the value is empty", "write a number")
    bad = next((w for w in words if not _NUMBER.fullmatch(w)), None)
    if bad is not None:
        octal = bad.lstrip("-").startswith("0") and bad.lstrip("-").isdigit()
        return Refusal(f"{value!r} is not a number" + (" (a leading 0 makes it octal)" if octal else ""),
                       "write decimal numbers separated by spaces, e.g. 32768 60999")
    return [int(w) for w in words]


def _show(intervals: Intervals) -> str:
    def one(lo: int, hi: int) -> str:
        if lo == hi:
            return str(lo)
        low = "" if lo <= -(2 ** 63) else str(lo)
        high = "" if hi >= 2 ** 64 else str(hi)
        return f"{low}-{high}" if low and high else (f"≥ {low}" if low else f"≤ {high}" if high else "any number")
    return ", ".join(one(lo, hi) for lo, hi in intervals)


def value_problem(spec: Sysctl, value: int | str) -> Refusal | None:
    """Why the kernel would refuse ``value`` for ``spec`` (or, for a documented key, why it means nothing)."""
    if not spec.writable:
        return Refusal(f"{spec.key} is read-only in a network namespace",
                       "the kernel lets a namespace read it, not change it; remove it from the lab")
    if spec.values is None:
        return _text_problem(spec, str(value))
    found = numbers(value)
    if isinstance(found, Refusal):
        return found
    if len(found) > len(spec.values):
        what = "one number" if len(spec.values) == 1 else f"{len(spec.values)} numbers"
        return Refusal(f"{spec.key} holds {what}; {value!r} has {len(found)}",
                       f"e.g. {spec.sample!r}" if spec.sample else None)
    for i, (number, allowed) in enumerate(zip(found, spec.values, strict=False)):
        if any(lo <= number <= hi for lo, hi in allowed):
            continue
        which = f"number {i + 1} of " if len(spec.values) > 1 else ""
        if spec.documented:
            return Refusal(f"{number} is not a value of {spec.key.rsplit('.', 1)[-1]}",
                           f"{spec.meaning}; the kernel would store {number}, but it means nothing there "
                           "(Documentation/networking/ip-sysctl.rst)")
        return Refusal(f"{number} is out of range for {which}{spec.key}",
                       f"the kernel accepts {spec.meaning or _show(allowed)} here and answers EINVAL otherwise")
    return None


def _text_problem(spec: Sysctl, value: str) -> Refusal | None:
    if spec.key.startswith("net.ipv6.conf.") and spec.key.endswith(".stable_secret"):
        try:
            ok = ipaddress.ip_address(value.strip()).version == 6 and "%" not in value
        except ValueError:
            ok = False
        return None if ok else Refusal(f"{value!r} is not an IPv6 address", "the stable secret is written as an "
                                       "IPv6 address, e.g. 2001:db8::1 (the kernel answers EIO otherwise)")
    fmt = TEXT_FORMATS.get(spec.key)
    if fmt is None:
        return None
    pattern, largest, what = fmt
    text = value.strip()
    ok = re.fullmatch(pattern, text) is not None
    if ok and largest is not None and text:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            ok = ok and int(lo) <= int(hi or lo) <= largest
    return None if ok else Refusal(f"{value!r} is not a value of {spec.key}",
                                   f"the kernel takes {what} (and answers EINVAL otherwise)")


# ----------------------------------------------------------------------------------------- keys that limit each other

ORDERED_PAIRS = (
    ("net.ipv4.ipfrag_low_thresh", "net.ipv4.ipfrag_high_thresh"),
    ("net.ipv6.ip6frag_low_thresh", "net.ipv6.ip6frag_high_thresh"),
    ("net.netfilter.nf_conntrack_frag6_low_thresh", "net.netfilter.nf_conntrack_frag6_high_thresh"),
)
"""(low, high): the kernel refuses a low threshold above the high one, and a high one below the low one."""


class SysctlState:
    """A node's values as its sysctls are written, in order, from a fresh namespace's: for the few keys
    whose accepted values depend on another key (the port range and the unprivileged port start, the
    fragment thresholds, IPVS's sync threshold, addr_gen_mode 2 and the stable secret)."""

    def __init__(self) -> None:
        self.values: dict[str, list[int]] = {}
        self.secrets: set[str] = set()
        """Interfaces (or ``default``) whose net.ipv6.conf.*.stable_secret was set."""

    def current(self, key: str) -> list[int]:
        if key in self.values:
            return self.values[key]
        entry = generated.KEYS.get(key)
        sample = entry[2] if entry is not None else None
        found = numbers(sample) if sample else []
        return found if isinstance(found, list) else []

    def write(self, key: str, value: int | str) -> Refusal | None:
        """Record the write of ``value`` (already checked alone); why the kernel would refuse it here, if so."""
        if key.startswith("net.ipv6.conf.") and key.endswith(".stable_secret"):
            self.secrets.add(key[len("net.ipv6.conf."):-len(".stable_secret")])
            return None
        found = numbers(value)
        if isinstance(found, Refusal):
            return None
        new = found + self.current(key)[len(found):]
        problem = self._cross(key, new)
        if problem is None:
            self.values[key] = new
        return problem

    def _cross(self, key: str, new: list[int]) -> Refusal | None:
        if key == "net.ipv4.ip_local_port_range" and len(new) == 2:
            start = self.current("net.ipv4.ip_unprivileged_port_start")
            if new[1] < new[0]:
                return Refusal(f"the port range {new[0]}-{new[1]} ends before it starts",
                               "write the lower port first, e.g. 32768 60999")
            if start and new[0] < start[0]:
                return Refusal(f"the port range starts at {new[0]}, below ip_unprivileged_port_start ({start[0]})",
                               "the kernel keeps local ports out of the privileged range: lower "
                               "net.ipv4.ip_unprivileged_port_start first (it is written in the order given)")
        if key == "net.ipv4.ip_unprivileged_port_start" and new:
            ports = self.current("net.ipv4.ip_local_port_range")
            if ports and new[0] > ports[0]:
                return Refusal(f"{new[0]} is above the start of ip_local_port_range ({ports[0]})",
                               "the kernel keeps local ports out of the privileged range: raise "
                               "net.ipv4.ip_local_port_range first (it is written in the order given)")
        for low, high in ORDERED_PAIRS:
            if key == low and new and self.current(high) and new[0] > self.current(high)[0]:
                return Refusal(f"{new[0]} is above {high} ({self.current(high)[0]})",
                               f"the kernel keeps the low threshold at most the high one; raise {high} first")
            if key == high and new and self.current(low) and new[0] < self.current(low)[0]:
                return Refusal(f"{new[0]} is below {low} ({self.current(low)[0]})",
                               f"the kernel keeps the high threshold at least the low one; lower {low} first")
        if key == "net.ipv4.vs.sync_threshold" and len(new) == 2 and new[1] and new[0] >= new[1]:
            return Refusal(f"sync_threshold {new[0]} {new[1]}: the first must be below the second (or the second 0)",
                           "the kernel refuses it (EINVAL); e.g. 3 50, the default")
        if key.startswith("net.ipv6.conf.") and key.endswith(".addr_gen_mode") and new == [2]:
            ifname = key[len("net.ipv6.conf."):-len(".addr_gen_mode")]
            if ifname not in ("all", "default") and not self.secrets & {ifname, "default"}:
                return Refusal("addr_gen_mode 2 (stable privacy) needs a stable secret",
                               f"set net.ipv6.conf.{ifname}.stable_secret (an IPv6 address) before it; "
                               "without one the kernel answers EIO")
        return None

# The devices a full kernel adds to every new namespace once the tunnel modules are loaded: a name netlab
# creates must never be one of them (EEXIST), and index numbering starts above theirs.
FALLBACK_DEVICES = frozenset({"gre0", "gretap0", "erspan0", "tunl0", "sit0", "ip6tnl0", "ip6gre0", "ip_vti0",
                              "ip6_vti0"})
