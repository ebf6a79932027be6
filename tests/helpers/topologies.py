"""The base labs tests start from, as builders: a two-node link, a routed three-node lab, a LAN, an IPVS
director in front of real servers. A test changes one thing in a base (a node's body, an end, a top-level
key) and checks what that one thing does, so the rest of the lab is the same in every module.

The builders write YAML by hand, in one fixed layout -- one line per node (a flow mapping, or a block that
starts with a newline), two lines per link end pair, one per LAN member -- because tests assert the line of
each diagnostic: moving a key moves every line number after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "topology.md"

A_END = "{node: a, address: 10.0.0.1/24}"
B_END = "{node: b, address: 10.0.0.2/24}"


def block(key: str, *items: str) -> str:
    """A node body in block form with one list: ``a=block("routes", "{to: default, via: 10.0.0.2}")``."""
    return f"\n    {key}:\n" + "\n".join(f"      - {item}" for item in items)


def lab_text(name: str, nodes: Mapping[str, str], *, head: str = "", links: Iterable[tuple[str, str]] = (),
             lans: str = "", tail: str = "") -> str:
    """A lab: ``name``, then ``head`` (top-level keys, each line ending in a newline), the nodes (name → body:
    a flow mapping, ``""`` for none, or a block from :func:`block`), the links (pairs of end flow mappings),
    ``lans`` (the text under ``lans:``) and ``tail`` (more top-level keys)."""
    out = f"name: {name}\n{head}nodes:\n"
    for node, body in nodes.items():
        out += f"  {node}:{'' if not body or body.startswith(chr(10)) else ' '}{body}\n"
    pairs = list(links)
    if pairs:
        out += "links:\n" + "".join(f"  - a: {a}\n    b: {b}\n" for a, b in pairs)
    if lans:
        out += "lans:\n" + lans
    return out + tail


def two_nodes(a_end: str = A_END, b_end: str = B_END, *, name: str = "t", head: str = "", a: str = "{}",
              b: str = "{}", tail: str = "") -> str:
    """Nodes ``a`` and ``b`` on one link, 10.0.0.1/24 and 10.0.0.2/24 unless the ends say otherwise:
    the smallest lab with something to check on every level (names, ends, addresses, routes)."""
    return lab_text(name, {"a": a, "b": b}, head=head, links=[(a_end, b_end)], tail=tail)


def two_nodes_data(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """:func:`two_nodes` as data, dual-stack (10.0.0.0/24 + 2001:db8::/64), for tests that build labs as
    mappings. ``a``/``b``: extra node keys; ``top``: extra top-level keys, or ``ea``/``eb``/``link`` to
    update the ends and the link."""
    link: dict[str, Any] = {"a": {"node": "a", "address": ["10.0.0.1/24", "2001:db8::1/64"]},
                            "b": {"node": "b", "address": ["10.0.0.2/24", "2001:db8::2/64"]}}
    link["a"].update(top.pop("ea", {}))
    link["b"].update(top.pop("eb", {}))
    link.update(top.pop("link", {}))
    return {"name": "t", "nodes": {"a": a or {}, "b": b or {}}, "links": [link], **top}


def routed(name: str = "t", *, hosts: tuple[str, str] = ("h1", "h2"), router: str = "r", head: str = "",
           nodes: Mapping[str, str] | None = None, tail: str = "") -> str:
    """Two hosts, each on its own subnet to one router: ``h1`` 10.0.1.2 — 10.0.1.1 ``r`` 10.0.2.1 — 10.0.2.2
    ``h2``. ``nodes`` replaces node bodies (default ``{}``)."""
    left, right = hosts
    bodies = {left: "{}", right: "{}", router: "{}", **(nodes or {})}
    return lab_text(name, bodies, head=head, tail=tail, links=[
        (f"{{node: {left}, address: 10.0.1.2/24}}", f"{{node: {router}, address: 10.0.1.1/24}}"),
        (f"{{node: {router}, address: 10.0.2.1/24}}", f"{{node: {right}, address: 10.0.2.2/24}}")])


def lan(members: Mapping[str, str | None] | Iterable[str], *, name: str = "t", head: str = "",
        nodes: Mapping[str, str] | None = None, segment: str = "seg", keys: Iterable[str] = (),
        tail: str = "") -> str:
    """Nodes on one LAN ``seg`` (a bridge in a namespace of its own). ``members``: node names, or node →
    address (None: no address); ``nodes`` replaces node bodies (default ``{}``); ``keys``: LAN keys such
    as ``"mtu: 1400"``."""
    addresses = dict(members) if isinstance(members, Mapping) else dict.fromkeys(members)
    bodies = {**dict.fromkeys(addresses, "{}"), **(nodes or {})}
    text = f"  {segment}:\n" + "".join(f"    {key}\n" for key in keys) + "    members:\n"
    for node, address in addresses.items():
        text += f"      - {{node: {node}, address: {address}}}\n" if address else f"      - {{node: {node}}}\n"
    return lab_text(name, bodies, head=head, lans=text, tail=tail)


def director_lab(name: str = "t", *, services: bool = False, tail: str = "") -> str:
    """An IPVS lab without its ``ipvs:`` list: ``client`` — ``director`` — LAN ``srv`` with ``rs1`` and
    ``rs2`` (10.0.10.0/24), and ``far`` behind the director (10.0.9.0/24) with ``away`` behind it
    (10.0.8.0/24), for services routed out of the LAN. ``services``: rs1, rs2 and far serve HTTP."""
    http = "{services: [{kind: http}]}" if services else "{}"
    nodes = {"client": "{routes: [{to: default, via: 10.0.1.1}]}", "director": "{}", "rs1": http, "rs2": http,
             "far": http, "away": "{}"}
    links = [("{node: client, address: 10.0.1.10/24}", "{node: director, address: 10.0.1.1/24}"),
             ("{node: director, address: 10.0.9.1/24}", "{node: far, address: 10.0.9.2/24}"),
             ("{node: far, address: 10.0.8.1/24}", "{node: away, address: 10.0.8.2/24}")]
    members = "".join(f"      - {{node: {n}, address: 10.0.10.{h}/24}}\n" for n, h in
                      (("director", 2), ("rs1", 11), ("rs2", 12)))
    return lab_text(name, nodes, links=links, lans="  srv:\n    members:\n" + members, tail=tail)


def doc_blocks(language: str) -> list[str]:
    """The fenced ``language`` blocks of docs/topology.md, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)


def documented_labs() -> list[str]:
    """The YAML blocks of docs/topology.md that are whole lab files (a top-level ``name:``), not fragments."""
    return [b for b in doc_blocks("yaml") if re.search(r"^name: ", b, re.M)]


def documented(name: str) -> str:
    """The example lab ``name`` of docs/topology.md: tests keep the manual's examples true."""
    return next(b for b in documented_labs() if re.search(rf"^name: {name}$", b, re.M))
