"""Stage 2, validate: every problem in a topology at once, each with file:line, data path and hint.

Two passes. The *shape* pass is pydantic (unknown keys, wrong types), whose errors we translate into
words a learner understands. The *meaning* pass checks what a schema cannot: references to nodes
that do not exist, names the kernel would refuse, addresses that collide or whose ends are not in
one subnet, routes whose gateway no interface can reach. The meaning pass runs on every item that
has the right shape, so one typo does not hide the other problems of the file.

Nothing here touches the kernel.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from netlab.errors import Diagnostic, InvalidInput
from netlab.iptables import rules as iptables_checks
from netlab.iptables.model import Iptables
from netlab.model.topology import Endpoint, Lan, Link, Node, Topology
from netlab.probes import checks as probe_checks
from netlab.stages.load import LoadedFile, PathKey, format_path
from netlab.tunnels import checks as tunnel_checks

#: Lab names prefix namespace names; keep them short and shell-friendly.
LAB_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")
#: Node and LAN names become bridge-port names, so they obey interface-name rules and stay simple.
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$")
IFNAME_MAX = 15  # IFNAMSIZ - 1
SYSCTL_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


@dataclass
class Collector:
    """Gathers diagnostics with their lines, in file order at the end."""

    loaded: LoadedFile
    items: list[Diagnostic]
    incomplete: set[int] = dataclasses.field(default_factory=set)
    """ids of models salvaged from a shape error: checks of what they lack would only echo it."""

    def add(self, path: PathKey, message: str, hint: str | None = None) -> None:
        self.items.append(Diagnostic(self.loaded.source, self.loaded.line_of(path), format_path(path),
                                     message, hint))


def interface_name_problem(name: str) -> str | None:
    """Why the kernel would refuse ``name`` as an interface name (``dev_valid_name``), or None."""
    if not name:
        return "is empty"
    if len(name.encode()) > IFNAME_MAX:
        return f"is {len(name.encode())} bytes; Linux interface names are at most {IFNAME_MAX}"
    if name in (".", ".."):
        return "is not a valid interface name"
    if any(c == "/" or c == ":" or c.isspace() for c in name):
        return "contains '/', ':' or white space, which interface names cannot"
    return None


# ---------------------------------------------------------------- shape (pydantic) errors

def _field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(path: PathKey) -> type[BaseModel] | None:
    """The model class that the mapping at ``path`` should match (for "did you mean" hints).

    Walked from the models' own annotations, so every section a feature adds (tunnels, iptables,
    IPVS, ...) gets hints without being listed here.
    """
    model: type[BaseModel] = Topology
    i = 0
    while i < len(path):
        part = path[i]
        field = model.model_fields.get(part) if isinstance(part, str) else None
        below = _model_below(field.annotation) if field is not None else None
        if below is None:
            return None
        model, i = below[0], i + 1 + below[1]
    return model


def _model_below(annotation: Any) -> tuple[type[BaseModel], int] | None:
    """(model, extra path steps) that a field's value holds: 0 for a model, 1 more per list index or
    dict key in between. None for scalars and for unions of several models (no one set of keys)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _model_below(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, 0
    if origin in (tuple, list, dict) and args:
        inner = _model_below(args[-1] if origin is dict else args[0])
        return (inner[0], inner[1] + 1) if inner is not None else None
    if origin in (Union, UnionType):
        found = [b for b in (_model_below(a) for a in args if a is not type(None)) if b is not None]
        return found[0] if len(found) == 1 else None
    return None


def _shape_diagnostics(exc: ValidationError, col: Collector) -> None:
    for err in exc.errors():
        loc: PathKey = tuple(p for p in err["loc"] if isinstance(p, str | int))
        # pydantic adds the union member tag or the dict-key marker to locations; drop them.
        loc = tuple(p for p in loc if p not in ("[key]",) and not str(p).startswith("function-"))
        loc = probe_checks.clean_loc(loc)
        special = probe_checks.shape_problem(err, loc, col.loaded.data)
        if special is not None:  # probes and services: wording that knows their kinds
            col.add(loc, *special)
            continue
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            model = _model_at(loc[:-1])
            hint = None
            if model is not None:
                close = difflib.get_close_matches(key, _field_names(model), n=1)
                allowed = ", ".join(_field_names(model))
                hint = f"did you mean {close[0]!r}?" if close else f"allowed keys here: {allowed}"
            col.add(loc, f"unknown key {key!r}", hint)
        elif kind == "missing":
            col.add(loc, f"required key {str(loc[-1])!r} is missing")
        elif kind in ("string_type", "int_type", "int_parsing", "bool_type", "bool_parsing", "dict_type",
                      "tuple_type", "list_type", "model_type"):
            wanted = {"string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
                      "bool_type": "true or false", "bool_parsing": "true or false",
                      "dict_type": "a mapping", "tuple_type": "a list", "list_type": "a list",
                      "model_type": "a mapping"}[kind]
            col.add(loc, f"must be {wanted}, not {_describe(err.get('input'))}")
        elif kind in ("greater_than_equal", "less_than_equal"):
            col.add(loc, f"{err.get('input')!r} is out of range: {err['msg'].lower()}")
        else:
            col.add(loc, err["msg"])


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _parse_each(loaded: LoadedFile, col: Collector) -> Topology | None:
    """Parse the whole file; on shape errors, report them and parse what can be parsed."""
    try:
        return Topology.model_validate(loaded.data)
    except ValidationError as exc:
        _shape_diagnostics(exc, col)
    return None


M = TypeVar("M", bound=BaseModel)
_MISSING = object()


def _salvage_value(annotation: Any, value: object, col: Collector) -> object:
    """``value`` checked against ``annotation``; for containers of models, what of it is well-formed.

    Models in a list that cannot be salvaged become ``None`` (so the data paths of the others keep
    their indexes); the meaning pass skips them. Bad scalars in a list are dropped. Returns ``_MISSING``
    if nothing can be kept.
    """
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        pass
    base = annotation
    if get_origin(base) is Annotated:
        base = get_args(base)[0]
    origin, args = get_origin(base), get_args(base)
    if origin is tuple and args and isinstance(value, list):
        item = args[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            return tuple(salvage(item, x, col) for x in value)
        scalars = [_salvage_value(item, x, col) for x in value]
        return tuple(x for x in scalars if x is not _MISSING)  # scalars: drop the bad ones
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kept = _salvage_value(args[1], item, col)
            if kept is not _MISSING:
                out[str(key)] = kept
        return out
    if isinstance(base, type) and issubclass(base, BaseModel):
        kept_model = salvage(base, value, col)
        return _MISSING if kept_model is None else kept_model
    return _MISSING


def salvage(model: type[M], raw: object, col: Collector) -> M | None:
    """As much of ``model`` as ``raw`` holds well-formed, so one typo does not hide other problems.

    Fields with shape errors fall back to their defaults; a model missing a required field that
    cannot be salvaged is ``None``. The result is built without validation (``model_construct``)
    and is only ever used by the meaning pass of a file that already failed.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None
    try:
        return model.model_validate(raw)
    except ValidationError:
        pass
    values: dict[str, object] = {}
    for name, field in model.model_fields.items():
        annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        kept = _salvage_value(annotation, raw[name], col) if name in raw else _MISSING
        if kept is _MISSING:
            if field.is_required():
                return None
            values[name] = field.get_default(call_default_factory=True)
        else:
            values[name] = kept
    built = model.model_construct(None, **values)
    col.incomplete.add(id(built))
    return built


def _partial(loaded: LoadedFile, col: Collector) -> Topology:
    """The topology of a file that failed the shape pass, with every well-formed part kept."""
    data = loaded.data if isinstance(loaded.data, dict) else {}
    raw_nodes = data.get("nodes")
    nodes = {}
    if isinstance(raw_nodes, dict):
        # a node exists even if its body is wrong: references to it are not "unknown node"
        nodes = {str(k): salvage(Node, v, col) or Node() for k, v in raw_nodes.items()}
    fixed = {**data, "nodes": {}, "name": data.get("name") if isinstance(data.get("name"), str) else "?"}
    topo = salvage(Topology, fixed, col)
    if topo is None:
        topo = Topology.model_construct(name="?", nodes={})
    return topo.model_copy(update={"nodes": nodes})


# ---------------------------------------------------------------- meaning

@dataclass(frozen=True)
class _Iface:
    node: str
    name: str
    path: PathKey
    addresses: tuple[tuple[str, PathKey], ...]


def _endpoints(links: list[tuple[int, Link]], lans: dict[str, Lan]) -> Iterator[tuple[Endpoint, PathKey, str]]:
    """Every endpoint with its data path and the segment it is on (for subnet checks)."""
    for i, link in links:
        for end in ("a", "b"):
            ep = getattr(link, end, None)
            if ep is not None:
                yield ep, ("links", i, end), f"links[{i}]"
    for lan_name, lan in lans.items():
        for j, member in enumerate(lan.members):
            if member is not None:
                yield member, ("lans", lan_name, "members", j), f"lans.{lan_name}"


def default_interface_names(links: list[tuple[int, Link]], lans: dict[str, Lan]) -> dict[PathKey, str]:
    """``eth0``, ``eth1``, … per node, in the order its unnamed ends appear (links, then LANs).

    Lives here because validation must check the same names that resolve will create.
    """
    taken: dict[str, set[str]] = {}
    for ep, _path, _seg in _endpoints(links, lans):
        if ep.interface:
            taken.setdefault(ep.node, set()).add(ep.interface)
    names: dict[PathKey, str] = {}
    counters: dict[str, int] = {}
    for ep, path, _seg in _endpoints(links, lans):
        if ep.interface:
            names[path] = ep.interface
            continue
        n = counters.get(ep.node, 0)
        while f"eth{n}" in taken.get(ep.node, set()):
            n += 1
        names[path] = f"eth{n}"
        taken.setdefault(ep.node, set()).add(f"eth{n}")
        counters[ep.node] = n + 1
    return names


def _check_names(lab_name: str | None, nodes: dict[str, Node], lans: dict[str, Lan], col: Collector) -> None:
    if lab_name is not None and not LAB_NAME.match(lab_name):
        col.add(("name",), f"lab name {lab_name!r} cannot be used",
                "1-24 characters: lower-case letters, digits and '-', starting with a letter or digit "
                "(it prefixes namespace names)")
    for name in nodes:
        if not NODE_NAME.match(name):
            col.add(("nodes", name), f"node name {name!r} cannot be used",
                    "1-15 characters: letters, digits, '-' and '_', starting with a letter or digit "
                    "(node names become namespace and bridge-port names)")
    for name in lans:
        if not NODE_NAME.match(name):
            col.add(("lans", name), f"LAN name {name!r} cannot be used",
                    "1-15 characters: letters, digits, '-' and '_', starting with a letter or digit")
        if name in nodes:
            col.add(("lans", name), f"LAN {name!r} has the name of a node",
                    "a LAN gets a namespace of its own, so LAN and node names must differ")


def _parse_address(text: str, path: PathKey, col: Collector,
                   need_prefix: bool = True) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    if need_prefix and "/" not in text:
        col.add(path, f"address {text!r} has no prefix length", f"write it as {text}/24 (or the right length)")
        return None
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        col.add(path, f"{text!r} is not an IP address with prefix", "example: 10.0.1.1/24 or 2001:db8::1/64")
        return None


def _check_addresses(nodes: dict[str, Node], links: list[tuple[int, Link]], lans: dict[str, Lan],
                     col: Collector) -> dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]]:
    """Addresses: parse, host part, duplicates per segment and lab-wide, both ends in one subnet."""
    connected: dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]] = {}
    seen: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, PathKey] = {}
    segments: dict[str, list[tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, PathKey]]] = {}
    for ep, path, segment in _endpoints(links, lans):
        for k, text in enumerate(ep.address):
            apath = (*path, "address", k) if len(ep.address) > 1 else (*path, "address")
            iface = _parse_address(text, apath, col)
            if iface is None:
                continue
            net = iface.network
            if net.prefixlen < net.max_prefixlen - 1 and iface.ip in (net.network_address,
                                                                       net.broadcast_address):
                which = "network" if iface.ip == net.network_address else "broadcast"
                col.add(apath, f"{text} is the {which} address of {net}", "pick a host address inside it")
            if iface.ip in seen:
                col.add(apath, f"address {iface.ip} is used twice",
                        f"also at {format_path(seen[iface.ip])} (line {col.loaded.line_of(seen[iface.ip])})")
            else:
                seen[iface.ip] = apath
            connected.setdefault(ep.node, []).append(iface)
            segments.setdefault(segment, []).append((iface, apath))
    for segment, addrs in segments.items():
        for version in (4, 6):
            family = [(a, p) for a, p in addrs if a.version == version]
            if len(family) < 2:
                continue
            first, first_path = family[0]
            for other, other_path in family[1:]:
                if other.network != first.network:
                    col.add(other_path, f"{other} is not in the subnet {first.network} of "
                            f"{format_path(first_path)}",
                            f"all ends on {segment} must share a subnet (same prefix length too)")
    for name, node in nodes.items():
        for k, text in enumerate(node.loopback):
            path = ("nodes", name, "loopback", k) if len(node.loopback) > 1 else ("nodes", name, "loopback")
            iface = _parse_address(text, path, col, need_prefix=False)
            if iface is not None:
                connected.setdefault(name, []).append(iface)
    return connected


def _check_endpoints(nodes: dict[str, Node], links: list[tuple[int, Link]], lans: dict[str, Lan],
                     col: Collector) -> dict[str, set[str]]:
    names = default_interface_names(links, lans)
    per_node: dict[str, dict[str, PathKey]] = {}
    for ep, path, _segment in _endpoints(links, lans):
        if ep.node not in nodes:
            close = difflib.get_close_matches(ep.node, list(nodes), n=1)
            col.add((*path, "node"), f"unknown node {ep.node!r}",
                    f"did you mean {close[0]!r}?" if close else f"nodes are: {', '.join(nodes) or 'none'}")
            continue
        ifname = names[path]
        if ep.interface is not None:
            problem = interface_name_problem(ep.interface)
            if problem:
                col.add((*path, "interface"), f"interface name {ep.interface!r} {problem}")
                continue
            if ep.interface == "lo":
                col.add((*path, "interface"), "'lo' is the loopback interface",
                        "use the node's `loopback:` key for addresses on lo")
                continue
        other = per_node.setdefault(ep.node, {}).get(ifname)
        if other is not None:
            col.add((*path, "interface"), f"node {ep.node!r} already has an interface {ifname!r}",
                    f"also at {format_path(other)}")
        else:
            per_node[ep.node][ifname] = path
        if ep.mac is not None:
            if not MAC.match(ep.mac):
                col.add((*path, "mac"), f"{ep.mac!r} is not a MAC address", "example: 02:00:00:00:00:01")
            elif int(ep.mac[:2], 16) & 1:
                col.add((*path, "mac"), f"{ep.mac} is a multicast MAC address",
                        "the first byte must be even (02:... is a safe locally administered choice)")
        for key in ep.sysctls:
            if not SYSCTL_KEY.match(key) or key.startswith("net."):
                col.add((*path, "sysctls", key), f"per-interface sysctl {key!r} is not a conf key",
                        "write keys relative to net.ipv4.conf.<ifname>. (e.g. rp_filter), or ipv6.<key>")
    for i, link in links:
        if link.a is not None and link.b is not None and link.a.node == link.b.node:
            col.add(("links", i), f"both ends are on node {link.a.node!r}", "a link joins two different nodes")
    return {node: set(ifs) for node, ifs in per_node.items()}


def _check_node(name: str, node: Node, interfaces: set[str],
                connected: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface], col: Collector) -> None:
    for key in node.sysctls:
        if not key.startswith("net.") or not SYSCTL_KEY.match(key):
            col.add(("nodes", name, "sysctls", key), f"sysctl {key!r} is not a network-namespace sysctl",
                    "only net.* keys are per namespace; anything else would change the whole machine")
    for k, route in enumerate(node.routes):
        if route is None:  # shape error, already reported
            continue
        path: PathKey = ("nodes", name, "routes", k)
        to = route.to
        if to != "default":
            try:
                ipaddress.ip_network(to, strict=True)
            except ValueError:
                try:
                    ipaddress.ip_network(to, strict=False)
                    col.add((*path, "to"), f"{to!r} has host bits set",
                            f"did you mean {ipaddress.ip_network(to, strict=False)}?")
                except ValueError:
                    col.add((*path, "to"), f"{to!r} is not a prefix", "example: 10.0.2.0/24 or default")
        if route.dev is not None and route.dev not in interfaces and route.dev != "lo":
            col.add((*path, "dev"), f"node {name!r} has no interface {route.dev!r}",
                    f"its interfaces: {', '.join(sorted(interfaces)) or 'none'}")
        if route.via is None and route.dev is None and id(route) not in col.incomplete:
            col.add(path, "a route needs `via` (a gateway) or `dev` (an interface)")
        if route.via is not None:
            try:
                gw = ipaddress.ip_address(route.via)
            except ValueError:
                col.add((*path, "via"), f"{route.via!r} is not an IP address")
                continue
            if not any(gw in c.network and c.network.prefixlen < c.network.max_prefixlen for c in connected):
                col.add((*path, "via"), f"gateway {gw} is not in any subnet of node {name!r}",
                        "the gateway must be reachable on one of the node's links or LANs")
            if to != "default":
                try:
                    if ipaddress.ip_network(to, strict=False).version != gw.version:
                        col.add((*path, "via"), f"gateway {gw} and destination {to} are different IP versions")
                except ValueError:
                    pass


def _check_requires(topo: Topology, col: Collector) -> None:
    from netlab.kernel.catalog import canonical_name, known

    names = known()
    for k, name in enumerate(topo.requires):
        if canonical_name(name) not in names:
            close = difflib.get_close_matches(name, list(names), n=1)
            col.add(("requires", k), f"unknown feature {name!r}",
                    f"did you mean {close[0]!r}?" if close else "`netlab doctor` lists the features netlab knows")


def _check_ipvs(topo: Topology, interfaces: dict[str, set[str]],
                connected: dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]], col: Collector) -> None:
    """Virtual services: nodes exist, VIP xor fwmark, ports, and the L2/L3 facts each mode depends on."""
    seen: dict[tuple[object, ...], int] = {}
    for k, svc in enumerate(topo.ipvs):
        if svc is None:
            continue
        path: PathKey = ("ipvs", k)
        if svc.director not in topo.nodes:
            col.add((*path, "director"), f"unknown node {svc.director!r}",
                    f"nodes are: {', '.join(topo.nodes) or 'none'}")
        if (svc.vip is None) == (svc.fwmark is None):
            col.add(path, "a virtual service needs exactly one of `vip` (with `port`) or `fwmark`")
        vip = None
        if svc.vip is not None:
            try:
                vip = ipaddress.ip_address(svc.vip)
            except ValueError:
                col.add((*path, "vip"), f"{svc.vip!r} is not an IP address", "the VIP is a single address, no prefix")
            if svc.port is None:
                col.add(path, "a VIP service needs `port`", "e.g. port: 80 (0 only with persistence: every port)")
            elif svc.port == 0 and not svc.persistence:
                col.add((*path, "port"), "port 0 (every port) needs `persistence`", "as `ipvsadm -p` requires")
        key = (svc.vip, svc.port, svc.protocol, svc.fwmark)
        if key in seen:
            col.add(path, "the same virtual service is defined twice", f"also at ipvs[{seen[key]}]")
        seen.setdefault(key, k)
        if any(f.startswith("sh-") for f in svc.flags) and svc.scheduler != "sh":
            col.add((*path, "flags"), "sh-fallback and sh-port are flags of the sh scheduler",
                    "set `scheduler: sh`, or remove the flags")
        if svc.vip_interface is not None and svc.director in topo.nodes and svc.vip_interface != "lo" \
                and svc.vip_interface not in interfaces.get(svc.director, set()):
            col.add((*path, "vip_interface"), f"node {svc.director!r} has no interface {svc.vip_interface!r}")
        if not svc.real_servers:
            col.add((*path, "real_servers"), "a virtual service needs at least one real server")
        director_nets = [c.network for c in connected.get(svc.director, []) if c.network.prefixlen < c.max_prefixlen]
        for j, rs in enumerate(svc.real_servers):
            if rs is None:
                continue
            rpath: PathKey = (*path, "real_servers", j)
            mode = rs.mode or svc.mode
            if rs.node not in topo.nodes:
                close = difflib.get_close_matches(rs.node, list(topo.nodes), n=1)
                col.add((*rpath, "node"), f"unknown node {rs.node!r}",
                        f"did you mean {close[0]!r}?" if close else f"nodes are: {', '.join(topo.nodes)}")
                continue
            if rs.node == svc.director:
                col.add((*rpath, "node"), "the director cannot be its own real server in this model",
                        "use a separate node")
            if rs.port is not None and svc.port and rs.port != svc.port and mode != "nat":
                col.add((*rpath, "port"), f"{mode.upper()} cannot change the port ({svc.port} → {rs.port})",
                        "DR and TUN deliver the packet unchanged; only NAT rewrites the port")
            rs_nets = [c.network for c in connected.get(rs.node, []) if c.network.prefixlen < c.max_prefixlen]
            shared = set(director_nets) & set(rs_nets)
            if mode in ("dr", "nat") and not shared and svc.director in topo.nodes:
                why = ("DR rewrites only the destination MAC, so the real server must be on the director's own "
                       "segment") if mode == "dr" else ("NAT real servers route their replies back through the "
                                                        "director, so they need a subnet in common")
                col.add((*rpath, "node"), f"{rs.node} shares no subnet with director {svc.director} ({mode})", why)
            if rs.address is not None:
                try:
                    ipaddress.ip_address(rs.address)
                except ValueError:
                    col.add((*rpath, "address"), f"{rs.address!r} is not an IP address")
            if vip is not None and rs.address is None and not rs_nets:
                col.add(rpath, f"real server {rs.node} has no address the director could use",
                        "give it an interface address, or set `address:`")


def _check_ipv6_off(topo: Topology, links: list[tuple[int, Link]], lans: dict[str, Lan], col: Collector) -> None:
    """``ipv6: false`` turns IPv6 off in every namespace, so any IPv6 address or route would fail in the kernel."""
    hint = "remove `ipv6: false` (IPv6 is turned on automatically when used)"
    for ep, path, _seg in _endpoints(links, lans):
        if any(":" in a for a in ep.address):
            col.add((*path, "address"), "IPv6 address in a lab with `ipv6: false`", hint)
    for name, node in topo.nodes.items():
        if any(":" in a for a in node.loopback):
            col.add(("nodes", name, "loopback"), "IPv6 address in a lab with `ipv6: false`", hint)
        for k, route in enumerate(node.routes):
            if route is not None and (":" in route.to or ":" in (route.via or "")):
                col.add(("nodes", name, "routes", k), "IPv6 route in a lab with `ipv6: false`", hint)


def validate(loaded: LoadedFile) -> Topology:
    """Return the typed topology, or raise :class:`InvalidInput` with every problem found."""
    col = Collector(loaded, list(loaded.duplicate_keys))
    if not isinstance(loaded.data, dict):
        col.add((), "a topology file is a mapping with at least `name:` and `nodes:`")
        raise InvalidInput(col.items)
    parsed = _parse_each(loaded, col)
    topo = parsed if parsed is not None else _partial(loaded, col)
    nodes, links, lans = dict(topo.nodes), list(enumerate(topo.links)), dict(topo.lans)
    links = [(i, link) for i, link in links if link is not None]
    lans = {k: v for k, v in lans.items() if v is not None}
    lab_name = loaded.data.get("name") if isinstance(loaded.data.get("name"), str) else None
    _check_names(lab_name, nodes, lans, col)
    interfaces = _check_endpoints(nodes, links, lans, col)
    connected = _check_addresses(nodes, links, lans, col)
    # tunnels, sub-interfaces, node bridges: their interfaces and addresses count for routes and probes
    more_ifs, more_addrs = tunnel_checks.check(topo, interfaces, connected, col)
    for name, ifnames in more_ifs.items():
        interfaces.setdefault(name, set()).update(ifnames)
    for name, addrs in more_addrs.items():
        connected.setdefault(name, []).extend(addrs)
    for name, node in nodes.items():
        _check_node(name, node, interfaces.get(name, set()), connected.get(name, []), col)
    _check_requires(topo, col)
    _check_ipvs(topo, interfaces, connected, col)
    for name, node in nodes.items():
        ipt = getattr(node, "iptables", None)
        raw_nodes = loaded.data.get("nodes")
        raw = raw_nodes.get(name) if isinstance(raw_nodes, dict) else None
        if ipt is None and isinstance(raw, dict) and isinstance(raw.get("iptables"), dict):
            ipt = salvage(Iptables, raw["iptables"], col)  # a misspelt table must not hide the rules' problems
        if ipt is not None:
            iptables_checks.check(name, ipt, col.add)
    probe_checks.check(col, loaded.data, nodes, interfaces, tuple(topo.ipvs))
    if topo.ipv6 is False:
        _check_ipv6_off(topo, links, lans, col)
    if col.items:
        col.items.sort(key=lambda d: (d.line or 0, d.path))
        raise InvalidInput(col.items)
    assert parsed is not None
    return parsed
