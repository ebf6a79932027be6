"""Checks of single values that the core and every feature share: interface names, MAC addresses, addresses.

Each answers in the kernel's terms (what ``dev_valid_name`` or ``is_valid_ether_addr`` would refuse), so a
name that passes here is one ``up`` can create.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from netlab.core.diagnostics import Collector, PathKey
from netlab.core.kernel_limits import IFNAME_BAD_BYTES, IFNAME_MAX, RESERVED_IFNAMES

MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")

__all__ = ["MAC", "check_ip", "interface_name_problem", "mac_problem", "parse_address", "parse_list"]


def interface_name_problem(name: str) -> str | None:
    """Why the kernel would refuse ``name`` as an interface name (``dev_valid_name``, and the names of the
    namespace-wide conf directories), or None."""
    if not name:
        return "is empty"
    raw = name.encode("utf-8", "surrogatepass")
    if len(raw) > IFNAME_MAX:
        return f"is {len(raw)} bytes; Linux interface names are at most {IFNAME_MAX}"
    if name in (".", ".."):
        return "is not a valid interface name"
    if name in RESERVED_IFNAMES:
        return (f"is reserved: /proc/sys/net/ipv4/conf/{name} holds the namespace-wide settings, so the kernel "
                "refuses it for an interface (EINVAL)")
    if "\x00" in name:
        return "contains a NUL byte"
    if any(c == "/" or c == ":" or c.isspace() for c in name):
        return "contains '/', ':' or white space, which interface names cannot"
    if any(b in IFNAME_BAD_BYTES for b in raw):  # 0xa0 is white space to the kernel's isspace(), byte by byte
        return "has a character whose UTF-8 holds the byte 0xa0 (as 'à' does), which the kernel takes for white space"
    return None


def parse_address(text: str, path: PathKey, col: Collector,
                   need_prefix: bool = True) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    if need_prefix and "/" not in text:
        col.add(path, f"address {text!r} has no prefix length", f"write it as {text}/24 (or the right length)")
        return None
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        col.add(path, f"{text!r} is not an IP address with prefix", "example: 10.0.1.1/24 or 2001:db8::1/64")
        return None
    if "%" in text:  # Python parses fe80::1%eth0; the kernel's addresses have no scope id (inet_pton refuses it)
        col.add(path, f"{text!r} has a scope id (%…)", "write the address alone: it is on the interface it is given to")
        return None
    return iface


def mac_problem(mac: str) -> tuple[str, str] | None:
    """Why the kernel would refuse ``mac`` for an interface (EADDRNOTAVAIL: ``is_valid_ether_addr``), or None."""
    if not MAC.fullmatch(mac):
        return f"{mac!r} is not a MAC address", "example: 02:00:00:00:00:01"
    if int(mac[:2], 16) & 1:  # broadcast too
        return (f"{mac} is a multicast MAC address",
                "the first byte must be even (02:... is a safe locally administered choice)")
    if int(mac.replace(":", ""), 16) == 0:
        return f"{mac} is the all-zero MAC address", ("the kernel refuses it for an interface (EADDRNOTAVAIL); "
                                                      "02:00:00:00:00:01 is a safe locally administered choice")
    return None


def parse_list(raw: object, adapter: TypeAdapter[Any]) -> list[tuple[int, Any]]:
    """The well-formed items of a list, with their indexes in the file."""
    if not isinstance(raw, list):
        return []
    out = []
    for i, item in enumerate(raw):
        try:
            out.append((i, adapter.validate_python(item)))
        except ValidationError:
            continue  # reported by the shape pass
    return out


def check_ip(col: Collector, path: PathKey, text: str, what: str = "address") -> ipaddress.IPv4Address | \
        ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        col.add(path, f"{text!r} is not an IP {what}", "a single address without prefix: 10.0.2.10 or 2001:db8::10")
        return None


def unknown_node(col: Collector, path: PathKey, name: str, nodes: Iterable[str]) -> None:
    """``unknown node 'rs3'`` with the closest name, or the list of nodes."""
    nodes = list(nodes)
    close = difflib.get_close_matches(name, nodes, n=1)
    col.add(path, f"unknown node {name!r}",
            f"did you mean {close[0]!r}?" if close else f"nodes are: {', '.join(nodes) or 'none'}")


def check_interface_ref(col: Collector, path: PathKey, spec: str, nodes: Iterable[str],
                        interfaces: dict[str, set[str]], also: frozenset[str] = frozenset()) -> None:
    """``node:interface`` (a capture's ``at``, a shaped interface): the node exists and has that interface
    (``also``: names every node has, e.g. ``lo`` for a capture)."""
    node, sep, iface = spec.partition(":")
    if not sep or not node or not iface:
        col.add(path, f"{spec!r} does not name an interface", "write node:interface, e.g. router:eth1")
        return
    nodes = list(nodes)
    if node not in nodes:
        unknown_node(col, path, node, nodes)
        return
    known = interfaces.get(node, set()) | also
    if iface not in known:
        close = difflib.get_close_matches(iface, sorted(known), n=1)
        col.add(path, f"node {node!r} has no interface {iface!r}",
                f"did you mean {close[0]!r}?" if close else f"its interfaces: {', '.join(sorted(known)) or 'none'}")
