"""The kernel features netlab knows, as data: one source for requirements, doctor, the prober and the VM.

Why one table: lists kept in several places drift. The IPVS model once accepted 14 schedulers while the
requirement check, doctor and the VM's module list knew 6, so ``scheduler: lblc`` was never checked before
``up``. Every consumer now derives its list from :data:`FEATURES`: the VM loads the modules named here, the
prober probes every entry, ``requires:`` accepts exactly these names, and the IPVS schedulers come from the
one tuple :data:`IPVS_SCHEDULERS` that the IPVS model's type is checked against (tests/unit/test_catalog.py).
"""

from __future__ import annotations

from netlab.core.frozen import frozen

# The Debian package that provides each program netlab or a lab runs (for install hints).
TOOL_PACKAGES: dict[str, str] = {
    "ip": "iproute2",
    "tc": "iproute2",
    "ss": "iproute2",
    "iptables": "iptables",
    "iptables-restore": "iptables",
    "iptables-save": "iptables",
    "iptables-legacy-restore": "iptables",
    "nft": "nftables",
    "ipvsadm": "ipvsadm",
    "tcpdump": "tcpdump",
    "socat": "socat",
    "ping": "iputils-ping",
    "arping": "iputils-arping",
    "modprobe": "kmod",
    "sysctl": "procps",
    "bash": "bash",
    "vagrant": "vagrant vagrant-libvirt",
    "virsh": "libvirt-clients",
    "sh": "dash",
    "dot": "graphviz",
}



__all__ = [
    "ALIASES",
    "FEATURES",
    "IPVS_SCHEDULERS",
    "TOOL_PREFIX",
    "Feature",
    "canonical_name",
    "describe",
    "known",
    "module_of",
    "vm_modules",
]

TOOL_PREFIX = "tool:"

#: Every IPVS scheduler of Linux 6.x (net/netfilter/ipvs/ip_vs_*.c), each its own module ``ip_vs_<name>``.
IPVS_SCHEDULERS: tuple[str, ...] = (
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
)

_SCHEDULER_NAMES = {
    "rr": "round-robin", "wrr": "weighted round-robin", "lc": "least-connection",
    "wlc": "weighted least-connection", "lblc": "locality-based least-connection",
    "lblcr": "locality-based least-connection with replication", "dh": "destination-hashing",
    "sh": "source-hashing", "sed": "shortest expected delay", "nq": "never queue", "fo": "weighted failover",
    "ovf": "weighted overflow", "mh": "Maglev hashing", "twos": "weighted random twos choice",
}


@frozen
class Feature:
    """A kernel feature: what it is, and the module that provides it in a distribution kernel."""

    name: str
    description: str
    module: str | None = None


FEATURES: tuple[Feature, ...] = (
    Feature("netns", "network namespaces (CONFIG_NET_NS)"),
    Feature("veth", "virtual ethernet pairs (veth)", "veth"),
    Feature("bridge", "Linux bridge (bridge)", "bridge"),
    Feature("vxlan", "VXLAN tunnels (vxlan)", "vxlan"),
    Feature("geneve", "GENEVE tunnels (geneve)", "geneve"),
    Feature("macvlan", "MACVLAN sub-interfaces (macvlan)", "macvlan"),
    Feature("ipvlan", "IPVLAN sub-interfaces (ipvlan)", "ipvlan"),
    Feature("gre", "GRE tunnels, IPv4 (ip_gre)", "ip_gre"),
    Feature("gretap", "GRE tunnels carrying Ethernet (ip_gre)", "ip_gre"),
    Feature("ip6gre", "GRE tunnels over IPv6 (ip6_gre)", "ip6_gre"),
    Feature("ipip", "IP-in-IP tunnels (ipip)", "ipip"),
    Feature("sit", "IPv6-in-IPv4 tunnels, protocol 41 (sit)", "sit"),
    Feature("tunl0", "the ipip fallback device tunl0 in every namespace, used by IPVS tunnel mode (ipip)", "ipip"),
    Feature("dummy", "dummy interfaces (dummy)", "dummy"),
    Feature("vlan", "802.1Q VLAN sub-interfaces (8021q)", "8021q"),
    Feature("netem", "netem qdisc: delay, loss, duplication (sch_netem)", "sch_netem"),
    Feature("tbf", "tbf qdisc: a rate-limited bottleneck queue (sch_tbf)", "sch_tbf"),
    Feature("fq", "fq qdisc: per-flow fair queueing and pacing (sch_fq)", "sch_fq"),
    Feature("fq_codel", "fq_codel qdisc: fair queueing with the CoDel AQM (sch_fq_codel)", "sch_fq_codel"),
    Feature("tcp_bbr", "BBR congestion control for a socket (tcp_bbr)", "tcp_bbr"),
    Feature("ip_vs", "IP Virtual Server, the kernel load balancer (ip_vs)", "ip_vs"),
    *(Feature(f"ip_vs_{s}", f"IPVS {_SCHEDULER_NAMES[s]} scheduler (ip_vs_{s})", f"ip_vs_{s}")
      for s in IPVS_SCHEDULERS),
    Feature("iptables", "iptables: the binary and its filter and nat tables"),
    Feature("cgroup2_cpu", "cgroup v2 with the cpu controller: cpu.max (CONFIG_CGROUP_SCHED)"),
    Feature("cgroup2_memory", "cgroup v2 with the memory controller: memory.max (CONFIG_MEMCG)"),
    Feature("cgroup2_pids", "cgroup v2 with the pids controller: pids.max (CONFIG_CGROUP_PIDS)"),
    Feature("br_netfilter", "iptables on bridged traffic, net.bridge.bridge-nf-call-* (br_netfilter)", "br_netfilter"),
    Feature("nftables", "nftables netlink API (nf_tables)", "nf_tables"),
)

_BY_NAME = {f.name: f for f in FEATURES}

#: Names people also use for the same thing (module names mostly); ``canonical_name`` maps them.
ALIASES: dict[str, str] = {
    "ip_gre": "gre", "ip6_gre": "ip6gre", "8021q": "vlan", "sch_netem": "netem", "sch_tbf": "tbf",
    "sch_fq": "fq", "sch_fq_codel": "fq_codel",
    "nf_tables": "nftables", "ipvs": "ip_vs",
}


def canonical_name(name: str) -> str:
    """The catalog name for ``name`` (aliases such as ``ip_gre`` or ``8021q`` accepted)."""
    return ALIASES.get(name, name)


def known() -> dict[str, str]:
    """Every feature name -> description, tools included as ``tool:NAME`` (what ``requires:`` accepts)."""
    out = {f.name: f.description for f in FEATURES}
    out.update({f"{TOOL_PREFIX}{t}": f"the `{t}` command (apt package {p})" for t, p in TOOL_PACKAGES.items()})
    return out


def describe(name: str) -> str:
    return known().get(canonical_name(name), "")


def module_of(name: str) -> str | None:
    """The kernel module behind feature ``name`` (for hints such as "modprobe ip_gre"), if any."""
    feature = _BY_NAME.get(canonical_name(name))
    return feature.module if feature else None


def vm_modules() -> tuple[str, ...]:
    """Modules the full-kernel VM loads before the command: every catalog feature's, once, in catalog order."""
    return tuple(dict.fromkeys(f.module for f in FEATURES if f.module))
