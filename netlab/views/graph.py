"""``netlab graph``: a lab's diagram as Graphviz DOT (rendered by ``dot``) or Mermaid, from the topology
alone -- no root, no lab up, like containerlab's offline graph.

Why DOT text written here, and no Python graphviz package: the text is the product -- a golden test
compares it line by line, a reader can edit it, and Mermaid is written the same way -- and rendering needs
exactly one Debian package, ``graphviz`` (its ``dot``), which a missing-tool error names. A binding would
add a dependency and still need that same program.

Layout: left to right; each node is a table (name, roles, one row per interface with its addresses, the
features' notes), so links attach to the interface they use; a LAN is a segment node of its own (its
bridge) with every member wired to it; a feature's edges (a tunnel, an IPVS director's real servers) are
dashed. The observed path (``--path``) is drawn over that without moving anything (``constraint=false``):
requests solid blue, replies dashed green, each labelled with the probes whose packets crossed there.
"""

from __future__ import annotations

import subprocess

from netlab.errors import NetlabError
from netlab.kernel.tools import require
from netlab.views.diagram import Box, Diagram, Port

FORMATS = ("svg", "png", "dot", "mermaid")
REQUEST = "#1f5fbf"
REPLY = "#2e8b57"
FEATURE = "#7a5195"
LAN_FILL = "#eef2f8"
MAX_NAMES = 3
"""Probe names on one path edge before ``+N``."""


class RenderFailed(NetlabError):
    """``dot`` refused the text (a bug in netlab: the text is generated)."""

    exit_code = 1


def _q(text: str) -> str:
    """A DOT quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _h(text: str) -> str:
    """Text inside a DOT HTML-like label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _end(port: Port, ports: set[tuple[str, str]]) -> str:
    node, ifname = port
    if ifname is not None and (node, ifname) in ports:
        return f"{_q(node)}:{_q(ifname)}"
    return _q(node)


def _names(probes: tuple[str, ...]) -> str:
    shown = ", ".join(probes[:MAX_NAMES])
    return shown + (f" +{len(probes) - MAX_NAMES}" if len(probes) > MAX_NAMES else "")


def _table(box: Box) -> str:
    """The node's HTML-like label, one row a line: one cell per interface (its port, where edges attach)."""
    rows = [f"<TR><TD><B>{_h(box.name)}</B></TD></TR>"]
    rows += [f'<TR><TD><FONT COLOR="{FEATURE}"><I>{_h(role)}</I></FONT></TD></TR>' for role in box.roles]
    for iface in box.interfaces:
        addresses = "<BR/>".join(_h(a) for a in iface.addresses) or "-"
        rows.append(f'<TR><TD PORT={_q(iface.name)} ALIGN="LEFT"><B>{_h(iface.name)}</B> {addresses}</TD></TR>')
    rows += [f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="8" COLOR="gray30">{_h(n)}</FONT></TD></TR>'
             for n in box.notes]
    return ('<\n    <TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" STYLE="ROUNDED">\n'
            + "".join(f"      {row}\n" for row in rows) + "    </TABLE>>")


def dot(diagram: Diagram) -> str:
    """The DOT text of a diagram (stable: the golden tests compare it)."""
    title = f"<B>{_h(diagram.lab)}</B>"
    if diagram.recorded is not None:
        title += (f'<BR/><FONT POINT-SIZE="9">observed path ({_h(diagram.recorded)}): '
                  f'<FONT COLOR="{REQUEST}">request ⟶</FONT>  <FONT COLOR="{REPLY}">reply ⇢</FONT></FONT>')
    out = [f"digraph {_q(diagram.lab)} {{",
           f'  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.35, ranksep=0.8, labelloc=t, '
           f"label=<{title}>];",
           '  node [fontname="Helvetica", fontsize=10, shape=plain];',
           '  edge [fontname="Helvetica", fontsize=8, dir=none, color="gray40"];']
    ports: set[tuple[str, str]] = set()
    boxes: dict[str, str] = {}
    for box in diagram.nodes:
        ports |= {(box.name, i.name) for i in box.interfaces}
        boxes[box.name] = f"{_q(box.name)} [label={_table(box)}, tooltip={_q(box.description.strip() or box.name)}];"
    for lan in diagram.lans:
        label = "\n".join((f"LAN {lan.name}", *lan.subnets))
        boxes["lan:" + lan.name] = (f'{_q("lan:" + lan.name)} [shape=box, style="rounded,filled", fillcolor='
                                    f'"{LAN_FILL}", label={_q(label)}, '
                                    f"tooltip={_q(f'LAN {lan.name}: a bridge in a namespace of its own')}];")
    for n, (host, members) in enumerate(diagram.hosts):  # a lab spread over hosts: one cluster per host
        out.append(f'  subgraph "cluster_host{n}" {{ label={_q("host " + host)}; style="rounded,dashed"; '
                   'color="gray50";')
        out += [f"    {boxes.pop(m)}" for m in members if m in boxes]
        out.append("  }")
    out += [f"  {line}" for line in boxes.values()]
    stitched = {(owner, ifname): label for owner, ifname, label in diagram.stitched}

    def cut(a: tuple[str, str], b: tuple[str, str]) -> str:
        label = stitched.get(a) or stitched.get(b)
        return f', style=bold, color="{FEATURE}", fontcolor="{FEATURE}", xlabel={_q(label)}' if label else ""

    for link in diagram.links:
        attrs = ", ".join(x for x in (f"label={_q(' '.join(link.subnets))}" if link.subnets else "",
                                      cut(link.a, link.b).lstrip(", ")) if x)
        out.append(f"  {_end(link.a, ports)} -> {_end(link.b, ports)}{f' [{attrs}]' if attrs else ''};")
    for lan in diagram.lans:  # the first member (in the file's order) before the LAN, the others after it
        for n, member in enumerate(lan.members):
            a, b = (_end(member, ports), _q("lan:" + lan.name))
            style = cut(member, (lan.name, "")).lstrip(", ")
            attrs = f" [{style}]" if style else ""
            out.append(f"  {a} -> {b}{attrs};" if n == 0 else f"  {b} -> {a}{attrs};")
    for extra in diagram.extras:
        out.append(f"  {_end(extra.a, ports)} -> {_end(extra.b, ports)} [style=dashed, color=\"{FEATURE}\", "
                   f"fontcolor=\"{FEATURE}\", label={_q(extra.label)}];")
    for edge in diagram.path:
        style = (f'color="{REQUEST}", fontcolor="{REQUEST}", penwidth=2' if edge.role == "request" else
                 f'color="{REPLY}", fontcolor="{REPLY}", penwidth=2, style=dashed')
        out.append(f"  {_end(edge.a, ports)} -> {_end(edge.b, ports)} [dir=forward, {style}, "
                   f"label={_q(_names(edge.probes))}, tooltip={_q(edge.role + ': ' + ', '.join(edge.probes))}, "
                   "constraint=false];")
    out.append("}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ Mermaid

def _mid(name: str, ids: dict[str, str]) -> str:
    """A Mermaid node id for any name (ids are letters, digits and ``_``; two names never share one)."""
    if name not in ids:
        base = "n_" + "".join(c if c.isalnum() else "_" for c in name)
        ids[name] = base if base not in ids.values() else f"{base}_{len(ids)}"
    return ids[name]


def _m(text: str) -> str:
    """Text inside a Mermaid ``"..."`` label."""
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;"))


def mermaid(diagram: Diagram) -> str:
    """A Mermaid flowchart of the same diagram, for Markdown (GitHub renders it)."""
    ids: dict[str, str] = {}
    out = ["flowchart LR"]
    for box in diagram.nodes:
        lines = [f"<b>{_m(box.name)}</b>", *(f"<i>{_m(r)}</i>" for r in box.roles)]
        lines += [_m(f"{i.name} {' '.join(i.addresses)}".strip()) for i in box.interfaces]
        out.append(f'  {_mid(box.name, ids)}["{"<br/>".join(lines)}"]')
    for lan in diagram.lans:
        label = "<br/>".join(_m(t) for t in (f"LAN {lan.name}", *lan.subnets))
        out.append(f'  {_mid("lan:" + lan.name, ids)}(["{label}"])')
    links: list[str] = []
    styles: list[str] = []
    for link in diagram.links:
        label = f'|"{_m(" ".join(link.subnets))}"|' if link.subnets else ""
        links.append(f"  {_mid(link.a[0], ids)} ---{label} {_mid(link.b[0], ids)}")
    for lan in diagram.lans:
        links += [f"  {_mid(node, ids)} --- {_mid('lan:' + lan.name, ids)}" for node, _if in lan.members]
    for extra in diagram.extras:
        links.append(f'  {_mid(extra.a[0], ids)} -.-|"{_m(extra.label)}"| {_mid(extra.b[0], ids)}')
        styles.append(f"stroke:{FEATURE}")
    first_path = len(links)
    for edge in diagram.path:
        arrow = "-->" if edge.role == "request" else "-.->"
        links.append(f'  {_mid(edge.a[0], ids)} {arrow}|"{_m(_names(edge.probes))}"| {_mid(edge.b[0], ids)}')
    out += links
    extras_at = first_path - len(diagram.extras)
    out += [f"  linkStyle {extras_at + i} {style}" for i, style in enumerate(styles)]
    out += [f"  linkStyle {first_path + i} stroke:{REQUEST if e.role == 'request' else REPLY},stroke-width:2px"
            for i, e in enumerate(diagram.path)]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ rendering

def render(text: str, fmt: str) -> bytes:
    """DOT text rendered by Graphviz's ``dot`` (``svg`` or ``png``); MissingTool (exit 4) without it."""
    program = require("dot", f"netlab graph renders {fmt.upper()} with Graphviz (`--format dot` or `--format "
                             "mermaid` need nothing)")
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=text.encode(), capture_output=True, timeout=120,
                              check=False)
    except subprocess.TimeoutExpired:
        raise RenderFailed("dot took more than 120 s to lay the diagram out") from None
    if done.returncode != 0:
        raise RenderFailed(f"dot failed (exit {done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def svg_inline(svg: bytes) -> str:
    """An SVG document as an element to put inside HTML: without its XML declaration and DOCTYPE."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text
