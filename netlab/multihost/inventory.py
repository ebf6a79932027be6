"""The hosts a lab may span, from an Ansible YAML inventory (``all.hosts`` and ``all.children.*.hosts``).

netlab reads, per host: its name (``[A-Za-z0-9][A-Za-z0-9_.-]*``, fullmatch), ``netlab_underlay`` -- the IPv4
address the other hosts reach it at, the outer address of its VXLAN stitches (default: ``ansible_host`` if that
is an IPv4 address) --, ``netlab_mtu``, the underlay's MTU (default 1500), and ``netlab_nodes``, nodes placed on
it (as a node's ``host:`` does, for a lab one would rather not edit). Everything else is Ansible's.
Every problem is reported at once, with file, line and data path, as for a topology.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from netlab.core.diagnostics import Collector, LoadedFile, PathKey
from netlab.core.frozen import frozen
from netlab.errors import InvalidInput
from netlab.naming import HOST_NAME, is_node_name
from netlab.stages.load import load_file


@frozen
class Host:
    name: str
    underlay: str
    """IPv4 address the other hosts reach this one at."""
    mtu: int = 1500
    nodes: tuple[str, ...] = ()
    """``netlab_nodes``: nodes placed on this host by the inventory (a node's own ``host:`` must agree)."""
    vars: tuple[tuple[str, str], ...] = ()
    """The host's other inventory variables (ansible_host, ansible_user...), as text, for the orchestration."""


@frozen
class Inventory:
    source: str
    hosts: tuple[Host, ...]

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts)


def _host_entries(data: object, col: Collector) -> list[tuple[str, object, PathKey]]:
    out: list[tuple[str, object, PathKey]] = []
    if not isinstance(data, dict) or not isinstance(data.get("all"), dict):
        col.add((), "an inventory is a mapping `all:` with `hosts:` (Ansible's YAML inventory)",
                "all: {hosts: {h1: {ansible_host: 192.0.2.11}, h2: {ansible_host: 192.0.2.12}}}")
        return out
    groups: list[tuple[object, PathKey]] = [(data["all"], ("all",))]
    children = data["all"].get("children")
    if isinstance(children, dict):
        groups += [(g, ("all", "children", name)) for name, g in children.items()]
    for group, path in groups:
        hosts = group.get("hosts") if isinstance(group, dict) else None
        if hosts is None:
            continue
        if not isinstance(hosts, dict):
            col.add((*path, "hosts"), "`hosts` is a mapping of host names to their variables")
            continue
        out += [(str(name), value, (*path, "hosts", name)) for name, value in hosts.items()]
    if not out:
        col.add(("all",), "the inventory names no host")
    return out


def read(loaded: LoadedFile) -> Inventory:
    """The inventory's hosts, or InvalidInput with every problem."""
    col = Collector(loaded, list(loaded.duplicate_keys))
    hosts: dict[str, Host] = {}
    for name, value, path in _host_entries(loaded.data, col):
        if not HOST_NAME.fullmatch(name):
            col.add(path, f"{name!r} is not a host name netlab accepts", "letters, digits, '.', '_', '-' (≤ 63)")
            continue
        variables = value if isinstance(value, dict) else {}
        if value is not None and not isinstance(value, dict):
            col.add(path, "a host's value is a mapping of its variables (or empty)")
        underlay = variables.get("netlab_underlay", variables.get("ansible_host"))
        try:
            ipaddress.IPv4Address(str(underlay))
        except ValueError:
            key = "netlab_underlay" if "netlab_underlay" in variables else "ansible_host"
            col.add((*path, key) if key in variables else path,
                    f"host {name} has no IPv4 underlay address ({underlay!r})",
                    "set netlab_underlay: the IPv4 address the other hosts reach it at")
            continue
        mtu = variables.get("netlab_mtu", 1500)
        if not isinstance(mtu, int) or isinstance(mtu, bool) or not 1280 <= mtu <= 65535:
            col.add((*path, "netlab_mtu"), f"netlab_mtu {mtu!r} is not an MTU of 1280..65535")
            continue
        nodes = variables.get("netlab_nodes", [])
        if not isinstance(nodes, list) or not all(is_node_name(n) for n in nodes):
            col.add((*path, "netlab_nodes"), "netlab_nodes is a list of node names (the nodes placed here)")
            continue
        if name in hosts and hosts[name].underlay != str(underlay):
            col.add(path, f"host {name} is listed twice with different addresses")
        hosts[name] = Host(name, str(underlay), mtu, tuple(nodes),
                           tuple(sorted((str(k), str(v)) for k, v in variables.items())))
    seen: dict[str, str] = {}
    for h in hosts.values():
        if h.underlay in seen:
            col.add(("all",), f"hosts {seen[h.underlay]} and {h.name} have the same underlay address {h.underlay}")
        seen[h.underlay] = h.name
    if col.items:
        raise InvalidInput(col.items)
    return Inventory(loaded.source, tuple(hosts.values()))


def load(path: Path) -> Inventory:
    return read(load_file(path))
