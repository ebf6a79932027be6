"""``netlab graph`` and ``netlab handout``: pictures and pages of a lab, from its topology alone (no root,
no lab up); ``--path`` adds what the last probe run observed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netlab.errors import InvalidInput

__all__ = ["add_verbs", "cmd_graph", "cmd_handout", "cmd_plot"]

SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


def _diagram(args: argparse.Namespace) -> tuple[Any, Any]:
    """(the lab, its diagram), with the observed path when asked for."""
    from netlab.api import Lab, observed_path
    from netlab.views import diagram

    lab = Lab.load(args.lab)
    record = None
    if args.path or args.path_from:
        record = observed_path(lab.name, file=Path(args.path_from) if args.path_from else None)
        if args.probe:
            known = [p.probe for p in record.paths]
            unknown = [name for name in args.probe if name not in known]
            if unknown:
                raise InvalidInput(message=f"the observed path of lab {lab.name} has no probe "
                                           f"{', '.join(map(repr, unknown))}\n    hint: it has: "
                                           f"{', '.join(known) or 'none (no traffic probe ran)'}")
    built = diagram.build(lab.resolved, record, args.probe or None)
    if getattr(args, "hosts", None):
        built = _on_hosts(built, lab.resolved, args.lab, args.hosts)
    return lab, built


def _on_hosts(d: Any, resolved: Any, ref: str, inventory: str) -> Any:
    """The diagram of the lab spread over the inventory's hosts: a cluster per host, stitched links marked."""
    import dataclasses

    from netlab.cli.multihost import split
    from netlab.naming import split_netns_name

    cut = split(ref, inventory)
    where = dict(cut.hosts)
    owners = {n.netns: n.name for n in resolved.nodes} | {lan.netns: "lan:" + lan.name for lan in resolved.lans}
    hosts = tuple((h, tuple(owners[ns] for ns, on in where.items() if on == h and ns in owners))
                  for h, _plan in cut.plans)
    stitched = []
    for c in cut.cuts:
        for end in (c.a, c.b):
            netns, _, ifname = end.partition(":")
            if netns in owners and not owners[netns].startswith("lan:") and split_netns_name(netns) is not None:
                stitched.append((owners[netns], ifname, f"VXLAN {c.vni}"))
    return dataclasses.replace(d, hosts=hosts, stitched=tuple(stitched))


def _write(data: bytes, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target = Path(output)
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(message=f"cannot write {output}: {exc.strerror}") from None


def cmd_graph(args: argparse.Namespace) -> int:
    from netlab.views import graph

    fmt = args.format or (SUFFIXES.get(Path(args.output).suffix.lower()) if args.output else None) or "svg"
    if fmt == "png" and (args.output is None or args.output == "-") and sys.stdout.isatty():
        raise InvalidInput(message="not writing PNG to a terminal\n    hint: -o FILE.png, or --format svg")
    _lab, d = _diagram(args)
    text = graph.mermaid(d) if fmt == "mermaid" else graph.dot(d)
    _write(text.encode() if fmt in ("dot", "mermaid") else graph.render(text, fmt), args.output)
    if args.output and args.output != "-":
        sys.stderr.write(f"wrote {args.output}\n")
    return 0


def cmd_handout(args: argparse.Namespace) -> int:
    from netlab import requirements
    from netlab.views import graph, handout

    if not (args.html or args.md):
        raise InvalidInput(message="nothing to write\n    hint: --html DIR and/or --md DIR")
    lab, d = _diagram(args)
    needs = [r.feature for r in requirements.derive(lab.topology)]
    for kind, directory in (("html", args.html), ("md", args.md)):
        if directory is None:
            continue
        svg = graph.svg_inline(graph.render(graph.dot(d), "svg")) if kind == "html" else None
        page = handout.render(handout.context(lab.resolved, d, args.lab, svg, graph.mermaid(d), needs,
                                              lab.topology.claims), kind)
        folder = Path(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(message=f"cannot create {directory}: {exc.strerror}") from None
        target = folder / f"{lab.name}.{kind}"
        _write(page.encode(), str(target))
        print(target)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from netlab.api import flow_samples
    from netlab.naming import checked_lab_name
    from netlab.views import plot

    lab = checked_lab_name(args.lab) if args.source is None else args.lab
    plots = flow_samples(lab, file=Path(args.source) if args.source else None)
    if args.probe:
        known = [p.probe for p in plots]
        unknown = [name for name in args.probe if name not in known]
        if unknown:
            raise InvalidInput(message=f"no flow samples of probe {', '.join(map(repr, unknown))}\n    hint: "
                                       f"the record has: {', '.join(known) or 'none'}")
        plots = [p for p in plots if p.probe in args.probe]
    if not plots:
        raise InvalidInput(message=f"the record holds no flow probe's samples\n    hint: lab {lab} needs a "
                                   "`kind: flow` probe, run by netlab probe or netlab run")
    folder = Path(args.outdir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(message=f"cannot create {folder}: {exc.strerror}") from None
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in lab)
    for p in plots:
        for fmt in args.format or ["png"]:
            target = folder / f"{safe}.{p.probe}.{fmt}"
            _write(plot.render(p, lab, fmt), str(target))
            print(target)
    return 0


def _view_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("lab", metavar="LAB", help="catalog name (see `netlab list`) or path to a topology file")
    p.add_argument("--path", action="store_true", help="draw the path the packets of the last probe run took "
                   "(recorded by `netlab probe`/`netlab run` under /run/netlab/logs/LAB/path.json)")
    p.add_argument("--path-from", metavar="FILE", help="draw the observed path from this record instead (a "
                   "path.json copied out of `netlab vm`, for instance)")
    p.add_argument("--probe", action="append", metavar="NAME", help="with --path: only this probe's packets "
                   "(repeatable)")


def add_verbs(verb: Callable[..., argparse.ArgumentParser]) -> None:
    """Register ``graph`` and ``handout`` with the CLI's ``verb(name, handler, help, description)``."""
    p = verb("graph", cmd_graph, "a diagram of a lab: SVG, PNG, DOT or Mermaid (no root, no lab up)",
             "Draw a lab from its topology alone: nodes with their interfaces and addresses, links, LANs (one "
             "segment node each), tunnels, node bridges and the roles the features give (IPVS director, real "
             "server, VTEP). --path adds the packets' path the last probe run observed: requests solid blue, "
             "replies dashed green, labelled with the probes. SVG and PNG are rendered by Graphviz's `dot` "
             "(apt-get install -y graphviz); DOT and Mermaid are text and need nothing.")
    _view_options(p)
    p.add_argument("--hosts", metavar="INVENTORY", help="draw the lab spread over these hosts (netlab up --hosts): "
                   "a box per host, the links stitched between them marked")
    p.add_argument("--format", choices=["svg", "png", "dot", "mermaid"],
                   help="output format (default: from -o's suffix, else svg)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of to stdout")

    p = verb("plot", cmd_plot, "plots of a lab's flow probes: cwnd, RTT, throughput, queue over time",
             "Draw what the flow probes of a lab's last probe run sampled (netlab probe / netlab run keep it in "
             "/run/netlab/logs/LAB/flows.json): per flow probe one figure, DIR/LAB.PROBE.png (and .svg), with the "
             "congestion window (retransmissions marked), the smoothed RTT, the throughput and the bottleneck's "
             "queue over time, one line per flow. --from reads a copy of that record (from `netlab vm`) or "
             "`netlab probe --json` output instead. Needs matplotlib (pip install 'netlab[plot]').")
    p.add_argument("lab", metavar="LAB", help="the lab whose last probe run is drawn (with --from: a title)")
    p.add_argument("outdir", metavar="DIR", help="directory for the pictures")
    p.add_argument("--from", dest="source", metavar="FILE", help="read the samples from FILE: a flows.json or "
                   "`netlab probe --json` output")
    p.add_argument("--probe", action="append", metavar="NAME", help="only this flow probe (repeatable)")
    p.add_argument("--format", action="append", choices=["png", "svg"], help="png (default) and/or svg "
                   "(repeatable)")

    p = verb("handout", cmd_handout, "a one-page handout of a lab (HTML and/or Markdown)",
             "Write one page for learners: the lab's description, its diagram (inline SVG in HTML, Mermaid in "
             "Markdown), the addressing table (node, interface, addresses, peer), what to observe, the probes "
             "and what each expects, and the commands to bring it up, probe it and take it down. The file is "
             "DIR/LAB.html or DIR/LAB.md.")
    _view_options(p)
    p.add_argument("--html", metavar="DIR", help="write DIR/LAB.html (needs Graphviz's dot for the diagram)")
    p.add_argument("--md", metavar="DIR", help="write DIR/LAB.md (the diagram as Mermaid: needs nothing)")
