"""``netlab handout``: one page per lab for learners -- what it shows, its diagram, who has which address,
what to look at, the probes that prove it, and the commands to run it -- as HTML or Markdown.

Why Jinja2 templates (``handout_templates/``) rather than strings built here: the page is mostly markup a
teacher may want to restyle, and a template keeps that markup in one readable file. HTML is autoescaped
(every text of a lab file is data); the only markup put in unescaped is the SVG that ``dot`` wrote from
text escaped here. Markdown is not escaped by Jinja2 -- its table cells go through :func:`md_cell` -- and
shows the diagram as a Mermaid block, which GitHub and most Markdown viewers draw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlab.core.codec import CodecError
from netlab.model.resolved import ResolvedLab
from netlab.probes.spec import (
    AnyProbe,
    ArpProbe,
    CaptureProbe,
    CountersProbe,
    DistributionProbe,
    FlowProbe,
    HttpProbe,
    PingProbe,
    SysctlProbe,
    TcpProbe,
    UdpProbe,
    probe_from_data,
)
from netlab.views.diagram import Diagram

if TYPE_CHECKING:  # the topology's claims, as validate made them
    from netlab.probes.model import Claim

TEMPLATES = Path(__file__).resolve().parent / "handout_templates"
OBSERVE = re.compile(r"\bObserve:\s*")
NEEDS_VM = ("ip_vs", "ipip", "ip_gre", "gre", "gretap", "sit", "vxlan", "tunl0", "macvlan", "ipvlan")
"""Requirements that a container's or a cloud VM's kernel often lacks: the handout then names ``netlab vm``."""


def expects(probe: AnyProbe) -> str:
    """What a probe checks, in a line, from its declaration alone (no lab up)."""
    if isinstance(probe, PingProbe):
        outcome = {0: "every echo answered", 100: "no echo answered"}.get(probe.loss, f"about {probe.loss}% lost")
        return f"{probe.from_} pings {probe.to} {probe.count} times: {outcome}"
    if isinstance(probe, TcpProbe | UdpProbe):
        proto = "TCP" if isinstance(probe, TcpProbe) else "UDP"
        what = f"{probe.bytes} random bytes from {probe.from_} to {probe.to}:{probe.port} over {proto}"
        return what + (" come back intact" if probe.expect == "ok" else f": {probe.expect}")
    if isinstance(probe, HttpProbe):
        what = f"GET {probe.path} from {probe.from_} to {probe.to}:{probe.port}"
        if probe.expect != "ok":
            return f"{what}: {probe.expect}"
        return f"{what} answers {probe.status}" + (f", served by {' or '.join(probe.served_by)}"
                                                    if probe.served_by else "")
    if isinstance(probe, DistributionProbe):
        shares = ", ".join(f"{n} {w:g}" for n, w in probe.shares.items())
        return (f"{probe.requests} HTTP requests from {probe.from_} to {', '.join(probe.to)}"
                + (f" shared {shares} (±{probe.tolerance:.0%})" if shares else "")
                + (f", sticky by {'source' if probe.sticky is True else probe.sticky}" if probe.sticky else ""))
    if isinstance(probe, ArpProbe):
        who = " and ".join(probe.answered_by) if probe.answered_by else f"{probe.answers or 1} MAC(s)"
        return f"who-has {probe.to} from {probe.from_}: answered by {who}"
    if isinstance(probe, CaptureProbe):
        where = ", ".join(probe.at)
        sel = f" matching '{probe.filter}'" if probe.filter else ""
        sel += " with " + ", ".join(f"{k}={v}" for k, v in probe.match.items()) if probe.match else ""
        return f"while {probe.during} runs: {probe.packets.describe('packet')}{sel} on {where}"
    if isinstance(probe, CountersProbe):
        subject = (f"IPVS {probe.ipvs.service}" + (f" → {probe.ipvs.dest}" if probe.ipvs.dest else "")
                   if probe.ipvs is not None else f"iptables {probe.table} {probe.chain or ''}".rstrip())
        wants = [f"{amount.describe(unit)}" for amount, unit in
                 ((probe.packets, "packet"), (probe.bytes, "byte"), (probe.connections, "connection"))
                 if amount is not None]
        return f"while {probe.during} runs, {subject} in {probe.node} counts {' and '.join(wants) or 'something'}"
    if isinstance(probe, SysctlProbe):
        return f"{probe.key} = {probe.value} in {probe.node}"
    if isinstance(probe, FlowProbe):
        from netlab.probes.flowstats import describe

        flows = " then ".join(probe.congestion) if not probe.together else " and ".join(probe.congestion)
        checks = "; ".join(describe(c, (probe.congestion or ("default",))[0]) for c in probe.checks)
        return (f"{probe.seconds:g} s of TCP ({flows or 'default congestion control'}) from {probe.from_} to "
                f"{probe.to}:{probe.port}" + (f": {checks}" if checks else ""))
    return (f"`{probe.command}` in {probe.node} exits {probe.exit if probe.exit is not None else 'with any status'}"
            + (f", printing {probe.contains!r}" if probe.contains else ""))


def probes_of(lab: ResolvedLab) -> list[AnyProbe]:
    out = []
    for raw in lab.probes:
        try:
            out.append(probe_from_data(raw))
        except CodecError:
            continue  # validate accepted it: cannot happen for a lab built by this netlab
    return out


def context(lab: ResolvedLab, diagram: Diagram, ref: str, svg: str | None = None, mermaid: str | None = None,
            needs: Sequence[str] = (), claims: Sequence[Claim] = ()) -> dict[str, Any]:
    """What the templates fill in; ``ref`` is how the reader names the lab on the command line, ``needs`` the
    kernel features it needs (``netlab.requirements.derive``): some mean the full-kernel VM on many machines;
    ``claims`` what the description states, each with the probes that prove it."""
    parts = OBSERVE.split(lab.description.strip(), maxsplit=1)
    intro, observe = parts[0], (parts[1] if len(parts) > 1 else "")
    observe = observe[:1].upper() + observe[1:]
    rows = [{"node": box.name, "roles": ", ".join(box.roles), "interface": iface.name,
             "addresses": ", ".join(iface.addresses) or "-", "peer": iface.peer or "-", "first": n == 0}
            for box in diagram.nodes for n, iface in enumerate(box.interfaces)]
    commands = [f"netlab up {ref}", f"netlab probe {ref}", f"netlab graph {ref} --path -o {lab.name}-path.svg",
                f"netlab down {lab.name}"]
    vm = list(dict.fromkeys(r for r in (*lab.requires, *needs) if r in NEEDS_VM or r.startswith("ip_vs")))
    return {
        "lab": lab.name, "intro": intro.strip(), "observe": observe.strip(), "svg": svg, "mermaid": mermaid,
        "rows": rows, "nodes": [{"name": b.name, "roles": ", ".join(b.roles), "description": b.description.strip(),
                                 "notes": list(b.notes)} for b in diagram.nodes],
        "probes": [{"name": p.name, "kind": p.kind, "expects": expects(p), "description": p.description or ""}
                   for p in probes_of(lab)],
        "commands": commands, "vm": vm, "vm_command": f"netlab vm run {ref}",
        "claims": [{"text": " ".join(c.text.split()), "probes": list(c.probes)} for c in claims],
    }


def md_cell(value: object) -> str:
    """Text safe in a Markdown table cell: one line, pipes escaped."""
    text = " ".join(str(value).split()).replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def render(ctx: Mapping[str, Any], kind: str) -> str:
    """The page: ``kind`` is ``html`` or ``md``."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=kind == "html",
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["cell"] = md_cell
    data = dict(ctx)
    if kind == "html" and data.get("svg") is not None:
        data["svg"] = Markup(data["svg"])  # written by dot from escaped text (see the module docstring)
    return env.get_template(f"handout.{kind}.j2").render(**data)
