"""``netlab``: the command line.

Conventions, for every verb: ``--help``; tables for humans on stdout, ``--json`` for machines;
user errors are one clear message on stderr (never a traceback) and a documented exit code
(:mod:`netlab.errors`). Heavy imports (pyroute2, scapy) happen inside the verbs that need them, so
``netlab --help`` and ``netlab validate`` stay fast — inside the full-kernel VM every import costs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from netlab.cli.common import HelpFormatter, RawHelpFormatter
from netlab.cli.common import console as _console
from netlab.cli.common import lab_name as _lab_name
from netlab.cli.common import print_json as _print_json
from netlab.cli.export import register as register_export
from netlab.cli.vagrant import register as register_vagrant
from netlab.cli.views import add_verbs as add_view_verbs
from netlab.errors import InvalidInput, NetlabError

if TYPE_CHECKING:
    from netlab.model.plan import Plan

Handler = Callable[[argparse.Namespace], int]


def _lazy(ref: str) -> Handler:
    """The handler ``"module:function"``, imported when its verb runs: building the parser for ``--help`` or
    for one verb imports no other verb's module (``doctor`` alone imports ctypes and importlib.metadata)."""
    def handler(args: argparse.Namespace) -> int:
        import importlib

        module, _, name = ref.partition(":")
        code: int = getattr(importlib.import_module(module), name)(args)
        return code

    return handler


# ------------------------------------------------------------------------------------------ verbs

def cmd_list(args: argparse.Namespace) -> int:
    from netlab import listing

    rows = listing.rows()
    if args.json:
        _print_json(rows)
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="netlab catalog", title_justify="left")
    table.add_column("lab", style="bold", no_wrap=True)
    table.add_column("what it shows")
    table.add_column("needs (besides netns, veth)")
    for row in rows:
        needs = [f for f in row["requires"] if f not in ("netns", "veth")]  # type: ignore[attr-defined]
        tags = "".join(f" [{t}]" for t in row.get("tags", []))  # type: ignore[attr-defined]
        # escaped: "[exercise (arp, level 2)]" is rich markup syntax and would vanish from the table
        table.add_row(str(row["name"]), escape(str(row["summary"]) + tags), ", ".join(needs) or "-")
    _console().print(table)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from netlab.api import Lab

    results = []
    failed = False
    for ref in args.files:
        try:
            lab = Lab.load(ref)
            results.append({"file": ref, "valid": True, "lab": lab.name, "errors": []})
        except InvalidInput as exc:
            failed = True
            results.append({"file": ref, "valid": False, "errors": [
                {"file": d.file, "line": d.line, "path": d.path, "message": d.message, "hint": d.hint}
                for d in exc.diagnostics] or [{"message": str(exc)}]})
            if not args.json:
                n = len(exc.diagnostics)
                sys.stderr.write(f"{exc}\n{ref}: {n} problem{'s' if n != 1 else ''}\n" if n else f"{exc}\n")
    if args.json:
        _print_json(results)
    elif not failed:
        for r in results:
            print(f"{r['file']}: valid (lab {r['lab']})")
    return 2 if failed else 0


def _progress_printer(enabled: bool) -> Callable[[str, int, int], None] | None:
    if not enabled:
        return None

    def progress(phase: str, done: int, total: int) -> None:
        if done == 0:
            sys.stderr.write(f"  {phase:<10} {total:>6} actions ...")
            sys.stderr.flush()
        else:
            sys.stderr.write(" done\n")

    return progress


def cmd_up(args: argparse.Namespace) -> int:
    from netlab.api import Lab

    if args.hosts:
        from netlab.cli import multihost

        return multihost.up(args, _print_json, _print_plan)
    if args.dry_run:
        plan = Lab.load(args.lab).plan()
        if args.json:
            _print_json(plan.to_dict())
            return 0
        _print_plan(plan, f"plan for lab {plan.lab}")
        return 0
    from netlab.api import up

    show_progress = not args.json and sys.stderr.isatty()
    result = up(args.lab, progress=_progress_printer(show_progress), recreate=args.recreate)
    if args.json:
        _print_json({"lab": result.lab, "created": result.created, "namespaces": result.namespaces,
                     "actions": result.actions, "seconds": round(result.seconds, 4)})
    else:
        extra = f" in {result.seconds:.2f} s" if result.created else ""
        print(result.message + extra)
        if result.created:
            print(f"  next: netlab status {result.lab}  |  netlab shell {result.lab} <node>  |  "
                  f"netlab down {result.lab}")
    return 0


def _print_plan(plan: Plan, title: str) -> None:
    console = _console()
    console.print(f"[bold]{title}[/] ({len(plan.namespaces)} namespaces, {len(plan.actions)} actions; nothing "
                  "applied)")
    for phase, actions in plan.by_phase():
        console.print(f"[bold]{phase}[/] ({len(actions)})")
        for action in actions:
            console.print(f"  {action.describe()}", markup=False)
            if phase == "iptables":  # the whole iptables-restore payload, line by line
                payload = str(getattr(action, "payload", ""))
                console.print("\n".join(f"      {line}" for line in payload.splitlines()), markup=False)


def cmd_down(args: argparse.Namespace) -> int:
    from netlab.api import down
    from netlab.multihost.orchestrate import recorded

    out = []
    failed = False
    for ref in args.labs:
        name = _lab_name(ref)
        if recorded(name) is not None:  # spread over hosts from here: every host takes its part down
            from netlab.cli import multihost

            cleaned, left = multihost.down_everywhere(name, args.json)
            failed |= bool(left)
            out.append({"lab": name, "hosts": cleaned, "not_cleaned": left})
            if not args.json:
                print(f"lab {name}: down on {len(cleaned)} hosts" + (f"; NOT on: {'; '.join(left)}" if left else ""))
            continue
        removed = down(name)
        out.append({"lab": name, "removed": removed})
        if not args.json:
            print(f"lab {name}: removed {len(removed)} namespaces" if removed else f"lab {name} was not up")
    if args.json:
        _print_json(out)
    return 1 if failed else 0


def cmd_clean(args: argparse.Namespace) -> int:
    from netlab.api import clean
    from netlab.multihost.orchestrate import stale, sweep

    report = clean(all_labs=args.all)
    swept = sweep()  # Ansible work directories of controllers killed mid-run (before any run here sweeps them)
    spread: dict[str, tuple[list[str], list[str]]] = {}
    for lab in stale():  # spread over hosts, and their controller died during `up`
        from netlab.cli.multihost import down_everywhere

        spread[lab] = down_everywhere(lab, args.json)
    if args.json:
        _print_json({"labs": list(report.labs), "removed": list(report.namespaces), "files": list(report.files),
                     "hosts": {lab: {"cleaned": done, "not_cleaned": left} for lab, (done, left) in spread.items()},
                     "ansible_work_dirs": swept})
        return 0
    for pid in swept:
        print(f"removed the Ansible work directory of a dead controller (pid {pid})")
    for lab, (done, left) in spread.items():
        print(f"lab {lab} (its controller died during up): down on {len(done)} hosts"
              + (f"; NOT on: {'; '.join(left)}" if left else ""))
    if report.namespaces or report.labs:
        print(f"removed {len(report.namespaces)} namespaces of {', '.join(report.labs) or 'no lab'}")
    for path in report.files:
        print(f"removed damaged or stale state file {path}")
    if not (report.namespaces or report.labs or report.files or spread or swept):
        print("nothing to clean")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from netlab.model.schema import topology_schema

    _print_json(topology_schema())
    return 0


# ------------------------------------------------------------------------------------------ parser

class _Unused:
    """The parser of a verb that does not run: every call on it is accepted and dropped.

    Why: building all ~30 verbs' parsers was a third of the fixed cost of a fast command (``netlab down``,
    ``netlab up`` of a cached lab), for options that are never parsed. The verb itself is still registered,
    so ``netlab --help`` and a mistyped verb build everything (see :func:`main`)."""

    def __getattr__(self, _name: str) -> Callable[..., _Unused]:
        return self._drop

    def _drop(self, *_args: object, **_kwargs: object) -> _Unused:
        return self


def build_parser(only: str | None = None, verbs: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with ``only``, the other verbs' parsers are :class:`_Unused` (see there). ``verbs``, if
    given, receives the name of every verb registered."""
    parser = argparse.ArgumentParser(
        prog="netlab", formatter_class=HelpFormatter,
        description="Linux networking labs from YAML: namespaces, veth, bridges, routes and sysctls, "
                    "built in the kernel and removed without a trace.",
        epilog="exit codes: 0 ok, 1 failed, 2 invalid input, 3 lab not up, 4 missing kernel feature or "
               "program, 5 needs root")
    parser.add_argument("--version", action="version", version=f"netlab {_version()}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs = [] if verbs is None else verbs

    def verb(name: str, handler: Handler, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
        verbs.append(name)
        if only is not None and name != only:
            return cast(argparse.ArgumentParser, _Unused())
        p = sub.add_parser(name, help=help_text, description=description or help_text, formatter_class=HelpFormatter)
        p.set_defaults(handler=handler)
        return p

    p = verb("list", cmd_list, "the lab catalog: name, what it shows, what it needs")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verb("validate", cmd_validate, "check topology files; report every problem at once (exit 2 if any)",
             "Check topology files without touching the kernel. Every problem is reported with file:line, "
             "the data path and a hint.")
    p.add_argument("files", nargs="+", metavar="LAB", help="topology file or catalog name")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verb("up", cmd_up, "bring a lab up (catalog name or path)",
             "Bring a lab up. If it is already up from the same file content this is a no-op that says so; "
             "if the file changed, `--recreate` tears the old one down first.")
    p.add_argument("lab", metavar="LAB", help="catalog name (see `netlab list`) or path to a topology file")
    p.add_argument("--dry-run", action="store_true", help="print the plan; apply nothing")
    p.add_argument("--recreate", action="store_true", help="if the lab is up, take it down and bring it up again")
    p.add_argument("--hosts", metavar="INVENTORY", help="spread the lab over the hosts of this Ansible YAML "
                   "inventory (docs/multihost.md); with --dry-run: each host's part")
    p.add_argument("--on", metavar="HOST", help="with --hosts: bring up only HOST's part, here (what each host "
                   "runs)")
    p.add_argument("--cut", metavar="DIGEST", help="with --on: refuse unless this host cuts the lab as the "
                   "controller did (the digest it sends)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verb("down", cmd_down, "remove everything a lab made (idempotent)",
             "Remove exactly what `up` made, from the recorded state alone (the topology file may have "
             "changed or gone). A lab that is not up is not an error.")
    p.add_argument("labs", nargs="+", metavar="LAB", help="lab name (or its topology file)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verb("status", _lazy("netlab.cli.status:cmd_status"),
             "labs that are up: nodes, interfaces, addresses (read from the kernel)")
    p.add_argument("lab", nargs="?", metavar="LAB", help="only this lab")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verb("exec", _lazy("netlab.cli.nodes:cmd_exec"),
             "run a command inside a node",
             "Run a command inside a node (its network namespace, with /sys showing the node's interfaces). "
             "Exits with the command's exit code.")
    p.add_argument("lab", metavar="LAB")
    p.add_argument("node", metavar="NODE")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command and its arguments")

    p = verb("shell", _lazy("netlab.cli.nodes:cmd_shell"),
             "an interactive shell inside a node; the prompt names lab and node")
    p.add_argument("lab", metavar="LAB")
    p.add_argument("node", metavar="NODE")

    p = verb("clean", cmd_clean, "after a crash: remove what netlab tagged that no live lab owns",
             "Remove namespaces netlab made that no live lab owns: those of an `up` that was killed, and "
             "tagged namespaces whose state is gone. Nothing is removed by name pattern: only objects "
             "carrying netlab's tag or listed in its journal. --all also takes down live labs.")
    p.add_argument("--all", action="store_true", help="also take down every live lab")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verb("doctor", _lazy("netlab.cli.doctor:cmd_doctor"),
             "what this machine's kernel and tools can do, and which labs need what",
             "Check every feature netlab can use by really trying it in a throwaway namespace (never in the "
             "root namespace), the programs and Python packages it runs, and which full-kernel VM backends "
             "really boot here (booted once per boot of the host, then remembered): tables of what is "
             "available, how it was checked, the remedy for what is not, and which catalog labs need it.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-vm", action="store_true", help="do not boot VM backends that were not tried yet")

    def probe_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--only", action="append", metavar="NAME", help="run only this probe (repeatable)")
        p.add_argument("--json", action="store_true", help="machine-readable results")
        p.add_argument("--junit", metavar="FILE", help="also write JUnit XML (one test case per probe)")
        p.add_argument("--pcap", metavar="DIR", help="keep every probe's packet captures in DIR (failed probes' "
                       "captures are always kept, under /run/netlab/logs/LAB/pcap by default)")
        p.add_argument("--no-path", action="store_true", help="do not record where the probes' packets went "
                       "(for `netlab graph --path`; about 8%% of a probe run in the TCG VM, ~1 ms a probe on a host)")

    p = verb("probe", _lazy("netlab.cli.probes:cmd_probe"),
             "run a lab's probes: a verdict per probe, expected vs observed",
             "Run the probes declared in a lab's topology against the lab as it was brought up. Exit 0 if every "
             "probe passed, 1 if one failed, 2 for an unknown --only name, 3 if the lab is not up.")
    p.add_argument("lab", metavar="LAB", help="lab name (or its topology file)")
    probe_options(p)

    p = verb("run", _lazy("netlab.cli.probes:cmd_run"),
             "up, probes, down in one command (for CI and grading)",
             "Bring a lab up, run its probes, take it down. Exit 0 only if every probe passed (1 if one failed, "
             "2 invalid input, 4 missing kernel feature). A lab that was already up is probed and left up.")
    p.add_argument("lab", metavar="LAB", help="catalog name or path to a topology file")
    p.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    p.add_argument("--hosts", metavar="INVENTORY", help="spread the lab over these hosts (as netlab up --hosts)")
    probe_options(p)

    p = verb("vm", _lazy("netlab.cli.vm:cmd_vm"),
             "run a lab or any command inside a full-kernel VM (IPVS, GRE, IPIP, ...)",
             "Boot a full Linux kernel (Debian's user-mode-linux, or a Debian kernel under QEMU with KVM or "
             "TCG: the first that boots here), run one command inside, stream its output, and exit with its exit "
             "code. The guest sees this machine's files (read-only, except the current directory) and gets a "
             "fresh /run. Every boot has a watchdog: a guest that hangs or panics is killed and reported with "
             "its last lines, and the next backend is tried. Forms:\n"
             "  netlab vm run LAB          up, probes and down of LAB inside (netlab run LAB)\n"
             "  netlab vm shell            an interactive shell inside\n"
             "  netlab vm check [--fresh]  which backends boot here, and how fast (exit 4 if none)\n"
             "  netlab vm -- COMMAND...    any command, e.g. netlab vm -- pytest -m kernel",
             )
    p.formatter_class = RawHelpFormatter
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="run LAB | shell | check [--fresh] | -- COMMAND")
    p.add_argument("--backend", choices=["auto", "uml", "kvm", "tcg"], default="auto",
                   help="auto (default): the first of uml, kvm, tcg that boots here -- found out by booting, "
                        "remembered until the host reboots; uml: user-mode-linux; kvm: QEMU with KVM; tcg: QEMU "
                        "emulation, slow but boots everywhere (see docs/vm.md)")
    p.add_argument("--json", action="store_true", help="with `check`: machine-readable output")
    p.add_argument("--memory", default="2G", help="guest memory (default 2G)")
    p.add_argument("--cpus", type=int, default=2, help="guest CPUs with QEMU (default 2; user-mode-linux has one)")
    p.add_argument("--timeout", type=float, default=None, help="seconds before the VM is killed")
    p.add_argument("--quiet", action="store_true", help="no banner on stderr")

    verb("schema", cmd_schema, "print the topology JSON Schema (for editors)")
    register_export(verb)  # netlab export: the lab as a bash script (netlab/cli/export.py)
    add_view_verbs(verb)  # netlab graph, netlab handout: pictures and pages of a lab (netlab/cli/views.py)
    register_vagrant(verb)  # netlab vagrant render|ci (netlab/cli/vagrant.py)
    if only is not None and only in verbs:
        return parser  # a core verb runs: the features' verbs need not even be imported
    from netlab.features.manifest import hooks

    for _, register in hooks("cli"):  # a feature's own verbs (netlab exercise)
        register(verb)
    return parser


def _version() -> str:
    from netlab import __version__

    return __version__


def _internal_error(exc: BaseException) -> int:
    """A bug, not the user's mistake: one line, and the traceback kept in a file for the report."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(exc))
    if os.environ.get("NETLAB_DEBUG"):
        sys.stderr.write(text)
        return 1
    where = ""
    try:
        with tempfile.NamedTemporaryFile("w", prefix="netlab-crash-", suffix=".txt", delete=False) as f:
            f.write(f"netlab {_version()}, argv {sys.argv!r}\n{text}")
            where = f" (traceback in {f.name})"
    except OSError:
        pass
    sys.stderr.write(f"error: internal error, a bug in netlab: {type(exc).__name__}: {exc}{where}\n"
                     "    hint: please report it with that file; NETLAB_DEBUG=1 prints the traceback here\n")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    target = argv[0] if argv and not argv[0].startswith("-") else None
    verbs: list[str] = []
    parser = build_parser(target, verbs)
    if target is not None and target not in verbs:
        parser = build_parser()  # a mistyped verb: the error lists them all
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except NetlabError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 141  # `netlab status | head`: the reader left; nothing to report
    except Exception as exc:
        return _internal_error(exc)


if __name__ == "__main__":
    sys.exit(main())
