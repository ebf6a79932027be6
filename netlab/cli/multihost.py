"""A lab over several hosts on the command line: ``netlab up LAB --hosts INVENTORY`` (``--dry-run``: the cut;
``--on HOST``: one host's part, what each host runs), and ``down``, ``probe``, ``status`` of such a lab from the
controller, every host driven through ansible-runner (netlab.multihost.orchestrate)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from netlab.core.digest import sha256
from netlab.errors import ApplyError, InvalidInput
from netlab.model.plan import Plan
from netlab.multihost.partition import Partition

if TYPE_CHECKING:
    from netlab.api import Lab


def split(ref: str, inventory: str) -> Partition:
    """The lab ``ref`` cut over the hosts of ``inventory`` (both validated; every problem at once, exit 2)."""
    return _split(ref, inventory)[1]


def _split(ref: str, inventory: str) -> tuple[Lab, Partition, str]:
    """The lab, its cut, and a digest of the inventory's hosts (a part of another cut is another version)."""
    from netlab.api import Lab
    from netlab.multihost.inventory import load
    from netlab.multihost.partition import partition
    from netlab.stages.load import load_text

    hosts = load(Path(inventory))
    lab = Lab.load(ref)
    digest = sha256(repr(hosts.hosts).encode()).hexdigest()
    return lab, partition(load_text(lab.text, str(lab.path)), lab.topology, lab.resolved, lab.plan(), hosts), digest


def up_part(args: argparse.Namespace) -> int:
    """``--on HOST``: bring up this host's part -- what the orchestration runs on each host. The host cuts the lab
    itself from the lab file and inventory it was given (the same pure stages, so the same cut): it trusts no
    plan handed to it."""
    lab, cut, digest = _split(args.lab, args.hosts)
    plans = dict(cut.plans)
    if args.on not in plans:
        names = [h for h, _p in cut.plans]
        raise InvalidInput(message=f"--on {args.on}: no part of lab {lab.name} is placed on it\n    hint: its "
                                   f"hosts: {', '.join(names)}")
    from netlab.pipeline import Part

    if args.cut and args.cut != cut_digest(cut):
        from netlab import __version__

        raise InvalidInput(message=f"host {args.on} cuts lab {lab.name} differently from the controller (netlab "
                                   f"{__version__} here)\n    hint: run the same netlab version on every host "
                                   "and on the controller")
    result = lab.up(recreate=args.recreate, part=Part(args.on, plans[args.on], digest))
    if args.json:
        print(json.dumps({"lab": result.lab, "host": args.on, "created": result.created,
                          "namespaces": result.namespaces, "actions": result.actions,
                          "seconds": round(result.seconds, 4)}))
    else:
        print(f"{result.message} (host {args.on})")
    return 0


def cut_digest(cut: Partition) -> str:
    """Of the whole cut: the controller sends it with ``up``, and a host whose own cut differs (another netlab
    version would stitch with other VNIs) refuses before anything starts."""
    return sha256(json.dumps(to_dict(cut), sort_keys=True).encode()).hexdigest()[:16]


def to_dict(cut: Partition) -> dict[str, object]:
    return {"lab": cut.lab, "placement": dict(cut.placement), "namespaces": dict(cut.hosts),
            "cuts": [{"a": c.a, "a_host": c.a_host, "b": c.b, "b_host": c.b_host, "vni": c.vni, "mtu": c.mtu}
                     for c in cut.cuts],
            "plans": {host: plan.to_dict() for host, plan in cut.plans}}


def up(args: argparse.Namespace, print_json: Callable[[object], None], print_plan: Callable[[Plan, str], None]) -> int:
    if args.on:
        return up_part(args)
    if not args.dry_run:
        return up_everywhere(args)
    cut = split(args.lab, args.hosts)
    if args.json:
        print_json(to_dict(cut))
        return 0
    hosts: dict[str, list[str]] = {}
    for node, host in cut.placement:
        hosts.setdefault(host, []).append(node)
    print(f"lab {cut.lab} over {len(hosts)} hosts (nothing applied):")
    for host, nodes in hosts.items():
        print(f"  {host}: {', '.join(nodes)}")
    if cut.cuts:
        print(f"links between hosts, stitched with VXLAN over the hosts' network ({len(cut.cuts)}):")
        for c in cut.cuts:
            print(f"  {c.a} ({c.a_host}) <-> {c.b} ({c.b_host}): vni {c.vni}, mtu {c.mtu}")
    for host, plan in cut.plans:
        print_plan(plan, f"plan for host {host}")
    return 0


def _say(quiet: bool) -> Callable[[str], None]:
    def say(line: str) -> None:
        if not quiet:
            sys.stderr.write(f"  {line}\n")

    return say


def up_everywhere(args: argparse.Namespace) -> int:
    """Cut here (every problem before anything starts), record the lab and inventory, run each host's ``up`` in
    parallel; if one host fails, take every host down again."""
    from netlab.multihost import orchestrate

    lab, cut, _digest = _split(args.lab, args.hosts)
    hosts = [h for h, _plan in cut.plans]
    inventory_text = Path(args.hosts).read_text(encoding="utf-8")
    before = orchestrate.recorded(lab.name)
    if before is not None:  # as on one machine: the same lab again is a no-op, another one needs --recreate
        status = orchestrate.status(lab.name)
        same = (orchestrate.read(before[0]), orchestrate.read(before[1])) == (lab.text, inventory_text)
        if status == "up" and same and not args.recreate:
            print(json.dumps({"lab": lab.name, "created": False}) if args.json else
                  f"lab {lab.name} is already up on its hosts (same topology and inventory); nothing to do")
            return 0
        if status != "up":
            raise ApplyError(f"lab {lab.name} is being brought up by another netlab, or one that died\n    hint: "
                             f"`netlab clean` takes down a lab whose controller died; `netlab down {lab.name}`")
        if not args.recreate:
            raise ApplyError(f"lab {lab.name} is already up on its hosts from another topology or inventory\n"
                             f"    hint: `netlab up --recreate {lab.name} --hosts ...`, or `netlab down {lab.name}`")
        _done, left = down_everywhere(lab.name, args.json)
        if left:
            raise ApplyError(f"lab {lab.name} could not be taken down on: {'; '.join(left)}")
    lab_file, inventory_file = orchestrate.record(lab.name, lab.text, inventory_text)
    if not args.json:
        sys.stderr.write(f"lab {lab.name}: up on {len(hosts)} hosts ({', '.join(hosts)}) through Ansible\n")
    answers = orchestrate.run("up", lab.name, lab_file, inventory_file, hosts, _say(args.json),
                              extravars={"netlab_cut": cut_digest(cut)})
    failed = [a for a in answers.values() if not a.succeeded]
    if failed:
        back = orchestrate.run("down", lab.name, lab_file, inventory_file, hosts, _say(args.json))
        if all(a.succeeded for a in back.values()):
            orchestrate.forget(lab.name)
        left = [f"{a.host} ({a.why()})" for a in back.values() if not a.succeeded]
        raise ApplyError(f"lab {lab.name} did not come up on every host; every host was taken down again\n"
                         + "\n".join(f"    {a.host}: {a.why()}" for a in failed)
                         + (f"\n    not taken down: {', '.join(left)} -- run `netlab down {lab.name}` again"
                            if left else ""))
    orchestrate.mark(lab.name, "up")
    nodes = {h: [n for n, where in cut.placement if where == h] for h in hosts}
    if args.json:
        print(json.dumps({"lab": lab.name, "hosts": {h: {"nodes": nodes[h], **(answers[h].data() or {})}
                                                      for h in hosts},
                          "cuts": len(cut.cuts)}))
    else:
        for h in hosts:
            print(f"  {h}: {', '.join(nodes[h])}")
        print(f"lab {lab.name} is up on {len(hosts)} hosts, {len(cut.cuts)} links stitched between them\n"
              f"  next: netlab probe {lab.name}  |  netlab status {lab.name}  |  netlab down {lab.name}")
    return 0


def down_everywhere(lab: str, quiet: bool) -> tuple[list[str], list[str]]:
    """(hosts cleaned, hosts not cleaned with why); the record is kept until every host is clean."""
    from netlab.multihost import orchestrate
    from netlab.multihost.inventory import load

    where = orchestrate.recorded(lab)
    assert where is not None
    hosts = list(load(where[1]).names)
    answers = orchestrate.run("down", lab, where[0], where[1], hosts, _say(quiet))
    if all(a.succeeded for a in answers.values()):
        orchestrate.forget(lab)
    return ([a.host for a in answers.values() if a.succeeded],
            [f"{a.host}: {a.why()}" for a in answers.values() if not a.succeeded])


def probe_everywhere(args: argparse.Namespace, lab: str) -> int:
    """Each probe on the host of its node (netlab.multihost.partition.probe_hosts), the answers in one table."""
    from netlab.multihost import orchestrate
    from netlab.multihost.partition import probe_hosts

    where = orchestrate.recorded(lab)
    assert where is not None
    whole, cut, _digest = _split(str(where[0]), str(where[1]))
    per_host, watches, nowhere = probe_hosts(whole.resolved.probes, dict(cut.placement))
    if args.only:
        per_host = {h: [p for p in names if p in args.only] for h, names in per_host.items()}
        watches = [w for w in watches if w.probe in args.only]
        nowhere = [(p, why) for p, why in nowhere if p in args.only]
    per_host = {h: names for h, names in per_host.items() if names}
    answers = orchestrate.run("probe", lab, where[0], where[1], list(per_host), _say(args.json),
                              extravars={"netlab_probes": per_host}) if per_host else {}
    results: list[dict[str, object]] = []
    problems = [f"{a.host}: {a.why()}" for a in answers.values() if a.data() is None]
    for host, answer in answers.items():
        for result in (answer.data() or {}).get("results", []):
            results.append({**result, "host": host})
    for w in watches:  # a capture on one host of traffic another host sends: both driven together
        both = orchestrate.watch(lab, where[0], where[1], w.probe, w.host, w.during, w.during_host, _say(args.json))
        found = [r for r in (both[w.host].data() or {}).get("results", []) if r.get("name") == w.probe]
        if not found:
            problems.append(f"{w.host}: {w.probe}: {both[w.host].why()}")
        results += [{**r, "host": w.host, "during_host": w.during_host} for r in found]
    passed = all(bool(r.get("passed")) for r in results) and not problems
    if getattr(args, "junit", None):
        from netlab.probes.result import ProbeResult, SuiteResult

        def number(value: object) -> float:
            return float(value) if isinstance(value, int | float) else 0.0

        SuiteResult(lab, tuple(ProbeResult(str(r.get("name")), str(r.get("kind")), r.get("passed") is True,
                                           str(r.get("expected", "")), f"{r.get('observed', '')} (on {r['host']})",
                                           number(r.get("seconds"))) for r in results),
                    sum(number(r.get("seconds")) for r in results)).write_junit(Path(args.junit))
    if args.json:
        print(json.dumps({"lab": lab, "passed": passed, "results": results, "hosts_failed": problems,
                          "not_run": [{"name": p, "why": why} for p, why in nowhere]}, indent=2))
    else:
        for r in results:
            print(f"  {'PASS' if r.get('passed') else 'FAIL'}  {r.get('name')} (on {r['host']}): {r.get('observed')}")
        for p, why in nowhere:
            print(f"  ----  {p}: not run: {why}")
        for problem in problems:
            print(f"  host {problem}")
        count = sum(1 for r in results if r.get("passed"))
        print(f"{count} of {len(results)} probes passed on {len({r['host'] for r in results})} hosts"
              + (f"; {len(nowhere)} not run (across hosts)" if nowhere else ""))
    return 0 if passed else 1


def status_everywhere(lab: str, as_json: bool) -> int:
    from netlab.multihost import orchestrate
    from netlab.multihost.inventory import load

    where = orchestrate.recorded(lab)
    assert where is not None
    hosts = list(load(where[1]).names)
    answers = orchestrate.run("status", lab, where[0], where[1], hosts, _say(as_json))
    if as_json:
        print(json.dumps({h: a.data() if a.data() is not None else {"error": a.why()} for h, a in answers.items()},
                         indent=2))
    else:
        for h, a in answers.items():
            data = a.data()
            if not isinstance(data, dict):
                print(f"  {h}: {a.why()}")
                continue
            nodes = [n.get("name") for n in data.get("nodes", []) if isinstance(n, dict)]
            print(f"  {h}: {len(nodes)} nodes up: {', '.join(str(n) for n in nodes)}")
    return 0 if all(a.data() is not None for a in answers.values()) else 1


def run_everywhere(args: argparse.Namespace) -> int:
    """``netlab run LAB --hosts INV``: up on every host, the probes, down on every host (unless ``--keep``); the
    exit status is the probes' (1 if down left a host)."""
    import contextlib
    import io

    args.dry_run, args.on, args.cut, args.recreate = False, None, None, False
    with contextlib.redirect_stdout(io.StringIO()) if args.json else contextlib.nullcontext():
        up_everywhere(args)
    name = _split(args.lab, args.hosts)[0].name
    try:
        code = probe_everywhere(args, name)
    finally:
        if not args.keep:
            _done, left = down_everywhere(name, args.json)
            if not args.json:
                sys.stderr.write(f"lab {name} is down on every host\n" if not left else
                                 f"lab {name} is NOT down on: {'; '.join(left)}\n")
            if left:
                code = code or 1
    return code
