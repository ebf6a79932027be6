"""Cross-reference checks of ``services:`` and ``probes:``, called by :mod:`netlab.stages.validate`.

Shape (types, unknown keys) is pydantic's job; what it cannot know is here: does the node a probe runs
from exist, is ``during`` another probe that makes traffic, is ``router:eth1`` an interface of the lab,
are two services of one node fighting over a port. Every problem goes to validate's collector, so it
is reported with file:line, data path and a hint like every other problem of the file.

The probes and services are parsed here from the raw data, one by one, so that one malformed probe
neither hides the problems of the others nor shifts their indexes in the messages.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from netlab.core.checks import check_interface_ref, check_ip, parse_list, unknown_node
from netlab.features.services.model import SERVICE_KINDS, AnyService
from netlab.probes.model import (
    PROBE_KINDS,
    TRAFFIC_KINDS,
    AnyProbe,
    ArpProbe,
    CaptureProbe,
    CountersProbe,
    DistributionProbe,
    FlowProbe,
    HttpProbe,
    PingProbe,
    Probe,
    StateProbe,
    SysctlProbe,
    TcpProbe,
    UdpProbe,
)

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey
    from netlab.features.ipvs.model import VirtualService
    from netlab.model.topology import Node, Topology

# Every pattern is used with fullmatch: ``match`` with ``$`` lets a trailing newline through.
PROBE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MATCH_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\[[1-9][0-9]*\])?\.[A-Za-z_][A-Za-z0-9_]*")
CONGESTION = re.compile(r"[a-z][a-z0-9_]{0,14}")  # TCP_CA_NAME_MAX 16, with its NUL
SYSCTL_KEY = re.compile(r"net\.[A-Za-z0-9_.-]+")
TABLES = ("filter", "nat", "mangle", "raw", "security")
_PROBE_MODELS: dict[str, type[Any]] = {m.model_fields["kind"].annotation.__args__[0]: m
                                       for m in AnyProbe.__args__}
_SERVICE_MODELS: dict[str, type[Any]] = {m.model_fields["kind"].annotation.__args__[0]: m
                                         for m in AnyService.__args__}


# ---------------------------------------------------------------------------------- shape errors

def _is_service_path(loc: PathKey) -> bool:
    return len(loc) >= 4 and loc[0] == "nodes" and loc[2] == "services" and isinstance(loc[3], int)


def _is_probe_path(loc: PathKey) -> bool:
    return len(loc) >= 2 and loc[0] == "probes" and isinstance(loc[1], int)


def clean_loc(loc: PathKey) -> PathKey:
    """Drop the union tag pydantic puts in the location of an error inside a probe or service
    (``probes[0].ping.count`` → ``probes[0].count``): the user wrote no key named ``ping``."""
    if _is_probe_path(loc) and len(loc) > 2 and loc[2] in PROBE_KINDS:
        return (*loc[:2], *loc[3:])
    if _is_service_path(loc) and len(loc) > 4 and loc[4] in SERVICE_KINDS:
        return (*loc[:4], *loc[5:])
    return loc


def _raw_at(data: object, path: PathKey) -> object:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def shape_problem(err: Any, loc: PathKey, data: object) -> tuple[str, str | None] | None:
    """Message and hint for shape errors of probes and services that need to know the kinds; None for
    every other error (validate's generic wording applies)."""
    is_probe, is_service = _is_probe_path(loc), _is_service_path(loc)
    if not (is_probe or is_service):
        return None
    what, kinds, models = (("probe", PROBE_KINDS, _PROBE_MODELS) if is_probe
                           else ("service", SERVICE_KINDS, _SERVICE_MODELS))
    kind = err["type"]
    if kind == "union_tag_invalid":
        tag = str(err.get("ctx", {}).get("tag", ""))
        close = difflib.get_close_matches(tag, kinds, n=1)
        return (f"unknown {what} kind {tag!r}",
                f"did you mean {close[0]!r}?" if close else f"{what} kinds: {', '.join(kinds)}")
    if kind == "union_tag_not_found":
        return f"this {what} has no `kind`", f"one of: {', '.join(kinds)}"
    if kind == "extra_forbidden":
        item = _raw_at(data, loc[:2] if is_probe else loc[:4])
        model = models.get(str(item.get("kind"))) if isinstance(item, dict) else None
        if model is None or len(loc) != (3 if is_probe else 5):
            return None
        fields = [f.alias or name for name, f in model.model_fields.items()]
        key = str(loc[-1])
        if key in ("True", "False"):
            return (f"a key YAML reads as {key.lower()} (on, off, yes, no are booleans in YAML)",
                    "for a capture, the interfaces are `at:`; otherwise quote the key")
        close = difflib.get_close_matches(key, fields, n=1)
        return (f"unknown key {key!r} for a {item['kind']} {what}",  # type: ignore[index]
                f"did you mean {close[0]!r}?" if close else f"allowed keys here: {', '.join(fields)}")
    return None


# ---------------------------------------------------------------------------------- meaning

def _check_filter(col: Collector, path: PathKey, expr: str) -> None:
    """Compile the BPF filter now (libpcap, in this process: nothing touches the kernel) so a typo is an
    input error with a line number instead of a failed probe later."""
    from netlab.probes.packets import BpfError, LibpcapMissing, compile_bpf

    try:
        compile_bpf(expr, 1)
    except LibpcapMissing:
        return  # checked again when the probe runs, where the error is reported too
    except BpfError as exc:
        col.add(path, f"filter {expr!r} is not a valid BPF filter: {exc}",
                "the syntax is tcpdump's (man pcap-filter): `tcp port 80 and host 10.0.1.10`")


def _check_probe(col: Collector, path: PathKey, probe: Any, by_name: dict[str, Any], nodes: dict[str, Node],
                 interfaces: dict[str, set[str]], services: tuple[VirtualService | None, ...]) -> None:
    if isinstance(probe, PingProbe | TcpProbe | UdpProbe | HttpProbe | ArpProbe | DistributionProbe | FlowProbe) \
            and probe.from_ not in nodes:
        unknown_node(col, (*path, "from"), probe.from_, nodes)
    if isinstance(probe, FlowProbe):
        _check_flow(col, path, probe, nodes, interfaces)
    if isinstance(probe, PingProbe | TcpProbe | UdpProbe | HttpProbe | ArpProbe):
        target = check_ip(col, (*path, "to"), probe.to)
        if isinstance(probe, ArpProbe) and target is not None and target.version != 4:
            col.add((*path, "to"), "ARP exists only in IPv4", "IPv6 uses neighbour discovery instead")
    if isinstance(probe, PingProbe) and probe.error is not None and probe.loss == 0:
        col.add((*path, "error"), f"an ICMP error ({probe.error}) is the answer to a request that got no echo reply, "
                "and this ping expects every one answered", "give `loss:` (100: none answered)")
    if isinstance(probe, TcpProbe | UdpProbe | HttpProbe | ArpProbe) and probe.source is not None:
        check_ip(col, (*path, "source"), probe.source)
    if isinstance(probe, CountersProbe | SysctlProbe | StateProbe) and probe.node not in nodes:
        unknown_node(col, (*path, "node"), probe.node, nodes)
    if isinstance(probe, HttpProbe):
        for k, node in enumerate(probe.served_by):
            if node not in nodes:
                unknown_node(col, (*path, "served_by", k) if len(probe.served_by) > 1 else (*path, "served_by"),
                              node, nodes)
    if isinstance(probe, ArpProbe):
        if probe.interface is not None and probe.from_ in nodes and probe.interface not in interfaces.get(
                probe.from_, set()):
            col.add((*path, "interface"), f"node {probe.from_!r} has no interface {probe.interface!r}",
                    f"its interfaces: {', '.join(sorted(interfaces.get(probe.from_, set()))) or 'none'}")
        for k, node in enumerate(probe.answered_by):
            if node not in nodes:
                unknown_node(col, (*path, "answered_by", k) if len(probe.answered_by) > 1
                              else (*path, "answered_by"), node, nodes)
        if probe.answers is not None and probe.answered_by and probe.answers != len(set(probe.answered_by)):
            col.add((*path, "answers"), f"answers: {probe.answers} contradicts answered_by "
                    f"({len(set(probe.answered_by))} nodes)", "give one of them")
    if isinstance(probe, DistributionProbe):
        if not probe.to:
            col.add((*path, "to"), "no address to send the requests to", "give one address, or a list")
        for k, address in enumerate(probe.to):
            check_ip(col, (*path, "to", k) if len(probe.to) > 1 else (*path, "to"), address)
        if probe.sticky == "destination" and len(probe.to) < 2:
            col.add((*path, "sticky"), "`sticky: destination` with a single `to` address proves nothing",
                    "give `to` a list of addresses (destination hashing maps each to one node)")
        for k, source in enumerate(probe.sources):
            check_ip(col, (*path, "sources", k), source)
        for node, weight in probe.shares.items():
            if node not in nodes:
                unknown_node(col, (*path, "shares", node), node, nodes)
            if weight < 0:
                col.add((*path, "shares", node), f"share {weight} is negative", "shares are weights ≥ 0")
        if not probe.shares and not probe.sticky and probe.servers is None:
            col.add(path, "a distribution probe needs `shares`, `sticky` or `servers`",
                    "e.g. shares: {rs1: 1, rs2: 1} for an even split")
        elif probe.shares and sum(probe.shares.values()) <= 0:
            col.add((*path, "shares"), "the shares add up to 0", "give at least one node a positive weight")
    if isinstance(probe, CaptureProbe | CountersProbe):
        other = by_name.get(probe.during)
        if other is None:
            close = difflib.get_close_matches(probe.during, list(by_name), n=1)
            col.add((*path, "during"), f"no probe named {probe.during!r}",
                    f"did you mean {close[0]!r}?" if close else "`during` names another probe of this lab")
        elif other.kind not in TRAFFIC_KINDS:
            col.add((*path, "during"), f"probe {probe.during!r} is a {other.kind} probe, which makes no traffic",
                    f"name a probe of kind {', '.join(TRAFFIC_KINDS)}")
    if isinstance(probe, CaptureProbe):
        for k, spec in enumerate(probe.at):
            check_interface_ref(col, (*path, "at", k) if len(probe.at) > 1 else (*path, "at"), spec, nodes,
                                interfaces, also=frozenset({"lo"}))
        for key in probe.match:
            if not MATCH_KEY.fullmatch(key):
                col.add((*path, "match", key), f"{key!r} is not a scapy field reference",
                        "write Layer.field (IP.src, TCP.dport) or Layer[2].field for the second such layer")
        if probe.filter is not None:
            _check_filter(col, (*path, "filter"), probe.filter)
        if probe.filter is None and not probe.match:
            col.add(path, "a capture that counts every packet proves little",
                    "add a `filter` (BPF, as for tcpdump) and/or a `match`")
    if isinstance(probe, CountersProbe):
        if probe.interface is None and "counter" in probe.model_fields_set:
            col.add((*path, "counter"), "`counter` names an interface statistic", "add `interface:`, or remove it")
        if probe.interface is not None:
            _check_link_counter(col, path, probe, nodes, interfaces)
        elif probe.ipvs is not None:
            _check_ipvs_counter(col, path, probe, nodes, services)
        else:
            if probe.table not in TABLES:
                col.add((*path, "table"), f"{probe.table!r} is not an iptables table",
                        f"tables: {', '.join(TABLES)}")
            if probe.rule is None and probe.chain is None:
                col.add(path, "a counters probe needs a `rule` (text selecting one rule) or a `chain` (its policy), "
                        "or `ipvs`")
            if probe.connections is not None:
                col.add((*path, "connections"), "only IPVS counts connections",
                        "add `ipvs: {service: NAME}`, or count `packets`/`bytes` of the rule")
            if probe.packets is None and probe.bytes is None:
                col.add(path, "a counters probe needs `packets` and/or `bytes`", "e.g. packets: {min: 1}")
    if isinstance(probe, SysctlProbe) and not SYSCTL_KEY.fullmatch(probe.key):
        col.add((*path, "key"), f"{probe.key!r} is not a network sysctl",
                "only net.* sysctls belong to a node's namespace")


def _check_flow(col: Collector, path: PathKey, probe: FlowProbe, nodes: dict[str, Node],
                interfaces: dict[str, set[str]]) -> None:
    """Congestion controls by their kernel names, once each; every check names a flow of this probe, has a
    bound, and asks for queue figures only where a queue is sampled."""
    check_ip(col, (*path, "to"), probe.to)
    if probe.queue is not None:
        check_interface_ref(col, (*path, "queue"), probe.queue, nodes, interfaces)
    many = len(probe.congestion) > 1
    for k, cc in enumerate(probe.congestion):
        if not CONGESTION.fullmatch(cc):
            col.add((*path, "congestion", k) if many else (*path, "congestion"),
                    f"{cc!r} is not a congestion control name", "the kernel's names: cubic, reno, bbr, ...")
    if len(set(probe.congestion)) != len(probe.congestion):
        col.add((*path, "congestion"), "a congestion control is listed twice",
                "each flow is named by its congestion control: list each once")
    if probe.warmup >= probe.seconds:
        col.add((*path, "warmup"), f"a warm-up of {probe.warmup:g} s leaves nothing of {probe.seconds:g} s flows "
                "to measure", "make `seconds` longer than `warmup`")
    labels = list(probe.congestion) or ["default"]
    for k, chk in enumerate(probe.checks):
        where: PathKey = (*path, "checks", k)
        if chk.flow is None and len(labels) > 1:
            col.add(where, "which flow? this probe runs several", f"add `flow:` (one of {', '.join(labels)})")
        for key in ("flow", "over"):
            value = getattr(chk, key)
            if value is not None and value not in labels:
                col.add((*where, key), f"no flow {value!r} in this probe", f"its flows: {', '.join(labels)}")
        if chk.over is not None and chk.over == (chk.flow or labels[0]):
            col.add((*where, "over"), "a flow compared with itself", "name another flow")
        if chk.min is None and chk.max is None:
            col.add(where, "a check without a bound", "give `min:`, `max:` or both")
        if chk.metric in ("queue", "drops") and chk.over is not None and probe.together:
            col.add((*where, "over"), f"flows run together share one queue: their `{chk.metric}` is the same",
                    "compare queue figures of flows run one after the other (together: false)")
        if chk.metric in ("queue", "drops") and probe.queue is None:
            col.add((*where, "metric"), f"`{chk.metric}` is measured at a queue, and this probe samples none",
                    "add `queue: node:interface` (the bottleneck's egress) to the probe")


def _check_link_counter(col: Collector, path: PathKey, probe: CountersProbe, nodes: dict[str, Node],
                        interfaces: dict[str, set[str]]) -> None:
    """An interface of the node (its links, tunnels, lo), a packet count, and none of the iptables/IPVS keys."""
    known = interfaces.get(probe.node, set()) | {"lo"}
    if probe.node in nodes and probe.interface not in known:
        col.add((*path, "interface"), f"node {probe.node!r} has no interface {probe.interface!r}",
                f"its interfaces: {', '.join(sorted(known))}")
    for key in ("ipvs", "table", "chain", "rule", "family", "bytes", "connections"):
        if key in probe.model_fields_set:
            col.add((*path, key), f"`{key}` is not read from an interface's statistics", "remove it, or `interface`")
    if probe.packets is None:
        col.add(path, "an interface counters probe needs `packets`", "e.g. packets: {min: 1}")


def _check_ipvs_counter(col: Collector, path: PathKey, probe: CountersProbe, nodes: dict[str, Node],
                        services: tuple[VirtualService | None, ...]) -> None:
    """An IPVS counters probe names a virtual service of the lab, read on its director, and one of its real
    servers; the iptables keys mean nothing here."""
    from netlab.features.ipvs.derive import service_name

    assert probe.ipvs is not None
    for key in ("table", "chain", "rule", "family"):
        if key in probe.model_fields_set:
            col.add((*path, key), f"`{key}` selects an iptables rule; this probe reads IPVS statistics",
                    "remove it, or remove `ipvs`")
    if probe.packets is None and probe.bytes is None and probe.connections is None:
        col.add(path, "a counters probe needs `packets`, `bytes` and/or `connections`", "e.g. connections: 20")
    by_name = {service_name(s): s for s in services if s is not None}
    svc = by_name.get(probe.ipvs.service)
    if svc is None:
        close = difflib.get_close_matches(probe.ipvs.service, list(by_name), n=1)
        col.add((*path, "ipvs", "service"), f"no IPVS service named {probe.ipvs.service!r}",
                f"did you mean {close[0]!r}?" if close else f"services: {', '.join(by_name) or 'none'}")
        return
    if probe.node in nodes and probe.node != svc.director:
        col.add((*path, "node"), f"IPVS service {probe.ipvs.service!r} runs on {svc.director!r}, not {probe.node!r}",
                f"node: {svc.director} (IPVS statistics live in the director's namespace)")
    servers = [rs.node for rs in svc.real_servers if rs is not None]
    if probe.ipvs.dest is not None and probe.ipvs.dest not in servers:
        col.add((*path, "ipvs", "dest"), f"{probe.ipvs.dest!r} is not a real server of {probe.ipvs.service!r}",
                f"its real servers: {', '.join(servers) or 'none'}")


def kernel_devices(services: tuple[VirtualService | None, ...]) -> dict[str, set[str]]:
    """Interfaces the kernel makes that a probe may name: ``tunl0`` on every TUN real server (netlab raises it;
    a capture there sees the decapsulated packets)."""
    found: dict[str, set[str]] = {}
    for svc in services:
        if svc is None:
            continue
        for rs in svc.real_servers:
            if rs is not None and (rs.mode or svc.mode) == "tun":
                found.setdefault(rs.node, set()).add("tunl0")
    return found


def check_probes(col: Collector, raw_probes: object, nodes: dict[str, Node], interfaces: dict[str, set[str]],
                 services: tuple[VirtualService | None, ...] = ()) -> None:
    """Names unique, references to nodes, interfaces, IPVS services and other probes resolvable."""
    probes = parse_list(raw_probes, TypeAdapter(Probe))
    by_name: dict[str, Any] = {}
    first: dict[str, int] = {}
    for i, probe in probes:
        path: PathKey = ("probes", i, "name")
        if not PROBE_NAME.fullmatch(probe.name):
            col.add(path, f"probe name {probe.name!r} cannot be used",
                    "letters, digits, '.', '-' and '_' (it is a command-line argument and a JUnit test name)")
        if probe.name in first:
            col.add(path, f"probe name {probe.name!r} is used twice", f"also at probes[{first[probe.name]}]")
        first.setdefault(probe.name, i)
        by_name.setdefault(probe.name, probe)
    extra = kernel_devices(services)
    interfaces = {node: interfaces.get(node, set()) | extra.get(node, set()) for node in {*interfaces, *extra}}
    for i, probe in probes:
        _check_probe(col, ("probes", i), probe, by_name, nodes, interfaces, services)


def check(col: Collector, data: object, topo: Topology, interfaces: dict[str, set[str]]) -> None:
    """Every meaning check of ``probes:`` (validate's entry point); ``services`` are the lab's IPVS virtual
    services (what an IPVS counters probe and a capture on ``tunl0`` refer to)."""
    if not isinstance(data, dict):
        return
    check_probes(col, data.get("probes"), dict(topo.nodes), interfaces, tuple(topo.ipvs))
    check_claims(col, topo)


def _words(text: str) -> str:
    return " ".join(text.lower().split())


def check_claims(col: Collector, topo: Topology) -> None:
    """Each claim quotes the description and names probes of the lab: a sentence that states a behaviour is
    tied to what would fail without it."""
    described = _words(topo.description)
    names = [p.name for p in topo.probes]
    for i, claim in enumerate(topo.claims):
        if claim is None:  # salvaged from a shape error, already reported
            continue
        if _words(claim.text) not in described:
            col.add(("claims", i, "text"), f"the description does not say {claim.text!r}",
                    "quote words of the lab's description (case and line breaks do not matter)")
        for k, name in enumerate(claim.probes):
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                col.add(("claims", i, "probes", k) if len(claim.probes) > 1 else ("claims", i, "probes"),
                        f"no probe named {name!r}", f"did you mean {close[0]!r}?" if close else
                        f"its probes: {', '.join(names) or 'none'}")
