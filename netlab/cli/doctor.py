"""``netlab doctor``: what this machine can do -- kernel features, programs, netlab's Python side, and which
full-kernel VM backends really boot here -- and which catalog labs need what it lacks.

Every answer is found by trying (a feature in a throwaway namespace, a library by loading it, a VM by
booting it), and every "no" comes with the remedy that fits its cause: a package for a program, the VM
for a kernel feature. Without root the kernel features are not tried -- creating a namespace needs root,
and a "no" that only means "not root" would send the user to the VM for labs that run fine -- and the
table says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from netlab.cli.common import console, print_json

__all__ = ["cmd_doctor", "python_side"]


def python_side() -> list[dict[str, Any]]:
    """netlab's own runtime: the interpreter, the Python packages probes import, and libpcap."""
    rows: list[dict[str, Any]] = [{"name": "python", "available": True, "how": f"{sys.version.split()[0]} at "
                                   f"{sys.executable}", "detail": ""}]
    for package, why in (("scapy", "capture probes dissect packets with it"),
                         ("pyroute2", "IPVS and the feature prober use it"),
                         ("pydantic", "topology validation")):
        try:
            import importlib.metadata

            version = importlib.metadata.version(package)
            rows.append({"name": package, "available": True, "how": f"version {version}", "detail": ""})
        except importlib.metadata.PackageNotFoundError:
            rows.append({"name": package, "available": False, "how": f"not installed in {sys.executable}'s "
                         f"environment ({why})", "detail": f"pip install {package} (into netlab's environment)"})
    import ctypes.util

    lib = ctypes.util.find_library("pcap")
    rows.append({"name": "libpcap", "available": lib is not None,
                 "how": f"found {lib}" if lib else "not found by the dynamic loader (capture filters are compiled "
                 "with it)", "detail": "" if lib else "apt-get install -y libpcap0.8"})
    return rows


def _needed_by() -> dict[str, list[str]]:
    from netlab import catalog, requirements
    from netlab.api import Lab
    from netlab.core.catalog import canonical_name
    from netlab.errors import InvalidInput

    needed: dict[str, list[str]] = {}
    for name in catalog.names():
        try:
            lab = Lab.load(name)
        except InvalidInput:
            continue
        for req in requirements.derive(lab.topology):
            needed.setdefault(canonical_name(req.feature), []).append(name)
    return needed


def _features(root: bool) -> list[dict[str, Any]]:
    from netlab.core.catalog import TOOL_PREFIX, known
    from netlab.kernel.features import FeatureStatus, detect_many

    names = list(known())
    if root:
        statuses = detect_many(names)
    else:  # programs can be looked up without root; kernel features cannot be tried
        tools = {s.name: s for s in detect_many([n for n in names if n.startswith(TOOL_PREFIX)])}
        statuses = [tools.get(n) or FeatureStatus(n, False, "not checked: trying a kernel feature needs root",
                                                  "run `sudo netlab doctor` (or as root)") for n in names]
    descriptions = known()
    needed = _needed_by()
    return [{"feature": st.name, "available": st.available, "checked": root or st.name.startswith(TOOL_PREFIX),
             "how": st.how, "detail": st.detail, "description": descriptions.get(st.name, ""),
             "needed_by": needed.get(st.name, [])} for st in statuses]


def _vm_rows(boot: bool, as_json: bool) -> list[dict[str, Any]]:
    from netlab.vm import check_backends

    def progress(line: str) -> None:
        if not as_json:
            sys.stderr.write(f"netlab doctor: {line}\n")

    return [r.__dict__ for r in check_backends(boot=boot, progress=progress)]


def cmd_doctor(args: argparse.Namespace) -> int:
    root = os.geteuid() == 0
    features = _features(root)
    python = python_side()
    vm = _vm_rows(boot=not args.no_vm, as_json=args.json)
    if args.json:
        print_json({"kernel": os.uname().release, "root": root, "features": features, "python": python, "vm": vm})
        return 0
    from rich.table import Table

    out = console()
    title = f"netlab doctor — kernel {os.uname().release}" + ("" if root else " (not root: kernel features not tried)")
    table = Table(title=title, title_justify="left")
    for col in ("feature", "ok", "how it was checked", "needed by"):
        table.add_column(col, overflow="fold")
    for row in features:
        ok = "[green]yes[/]" if row["available"] else ("[red]no[/]" if row["checked"] else "[yellow]?[/]")
        how = row["how"] if row["available"] else f"{row['how']}\n→ {row['detail']}"
        table.add_row(row["feature"], ok, how, ", ".join(row["needed_by"]))
    out.print(table)
    py = Table(title="netlab's Python side", title_justify="left")
    for col in ("component", "ok", "detail"):
        py.add_column(col, overflow="fold")
    for row in python:
        py.add_row(row["name"], "[green]yes[/]" if row["available"] else "[red]no[/]",
                   row["how"] + ("" if row["available"] else f"\n→ {row['detail']}"))
    out.print(py)
    from netlab.cli.vm import print_backends
    from netlab.vm import BackendReport

    print_backends([BackendReport(**r) for r in vm])
    _advice(features, python, vm, root)
    return 0


def _advice(features: list[dict[str, Any]], python: list[dict[str, Any]], vm: list[dict[str, Any]],
            root: bool) -> None:
    """One line per remedy: packages to install, labs that need the VM, and whether a VM boots at all."""
    from netlab.core.catalog import TOOL_PREFIX

    missing = [r for r in features if r["checked"] and not r["available"]]
    needed = [r for r in missing if r["needed_by"]] + [p for p in python if not p["available"]]
    packages = sorted({r["detail"].split()[-1] for r in needed if r["detail"].startswith("apt-get install")})
    if packages:
        print(f"install (a catalog lab or a probe needs it): apt-get install -y {' '.join(packages)}")
    kernel = [r for r in missing if not r["feature"].startswith(TOOL_PREFIX)
              and not r["detail"].startswith("apt-get install")]
    blocked = sorted({lab for r in kernel for lab in r["needed_by"]})
    if blocked:
        print(f"catalog labs that need the full-kernel VM here: {', '.join(blocked)}  (netlab vm run LAB)")
    if not root:
        print("kernel features were not tried: run `sudo netlab doctor` (or as root) to check them")
    if vm and not any(r["boots"] for r in vm) and any(r["boots"] is False for r in vm):
        print("no VM backend boots here: scripts/install-vm-deps --backend all, then `netlab vm check --fresh`")
