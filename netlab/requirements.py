"""Which kernel features and tools a lab needs, derived from its topology.

A lab must say what it needs *before* it touches anything: ``up`` on a kernel without IPVS has to
stop with "ip_vs is missing; run it in the VM with ...", not fail halfway with EOPNOTSUPP and a
rollback. The user never lists the obvious (a LAN needs ``bridge``); a topology's ``requires:``
adds what netlab cannot see (a feature used only by a node's ``commands``).

The core's parts contribute through the small functions below; every feature through its
``requirements`` hook (netlab.features.base).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from netlab.core.frozen import frozen
from netlab.core.requirement import Requirement

if TYPE_CHECKING:
    from netlab.model.topology import Topology
# derive imports the features and the probe models where it runs: `up` of a cached compile checks the
# requirements it recorded (missing) without them


def _base(topo: Topology) -> list[Requirement]:
    reqs = [Requirement("netns", "every node is a network namespace")]
    if topo.links or topo.lans:
        reqs.append(Requirement("veth", "links and LAN ports are veth pairs"))
    return reqs


def _lans(topo: Topology) -> list[Requirement]:
    return [Requirement("bridge", f"LAN {name} is a Linux bridge") for name in topo.lans]


def _declared(topo: Topology) -> list[Requirement]:
    return [Requirement(name, "listed under `requires:` in the topology") for name in topo.requires]


def _features(topo: Topology) -> list[Requirement]:
    """What each feature's sections need (netlab.features.registry: tunnels, IPVS, iptables, ...)."""
    from netlab.features.registry import FEATURES

    return [req for f in FEATURES if f.requirements is not None for req in f.requirements(topo)]


def _probes(topo: Topology) -> list[Requirement]:
    """A flow probe's congestion controls: BBR is a module (cubic and reno are built in everywhere)."""
    from netlab.probes.model import FlowProbe

    return [Requirement("tcp_bbr", f"flow probe {p.name} runs BBR") for p in topo.probes
            if isinstance(p, FlowProbe) and "bbr" in p.congestion]


def _sysctls(topo: Topology) -> list[Requirement]:
    """``net.bridge.*`` exists only with br_netfilter loaded (Docker's and kube-proxy's bridges need it)."""
    return [Requirement("br_netfilter", f"node {name} sets {key}") for name, node in topo.nodes.items()
            for key in node.sysctls if key.startswith("net.bridge.")]


DERIVERS = (_base, _lans, _features, _sysctls, _probes, _declared)


def derive(topo: Topology) -> list[Requirement]:
    """Every requirement of ``topo``, one per feature (the first reason found wins), in a stable order."""
    out: dict[str, Requirement] = {}
    for derive_part in DERIVERS:
        for req in derive_part(topo):
            out.setdefault(req.feature, req)
    return list(out.values())


@frozen
class Missing:
    requirement: Requirement
    how: str
    """What was tried and what the kernel answered."""
    detail: str


def missing(reqs: list[Requirement], cache_dir: Path | None = None) -> list[Missing]:
    """Requirements this machine does not meet, found by really trying each (see netlab.kernel.features).

    A "yes" is remembered until the next boot in ``cache_dir`` (default ``/run/netlab``): once the
    kernel has created a GRE link or an IPVS service, it can until it reboots (netlab never unloads
    modules). A "no" is never remembered — a ``modprobe`` or a package install may fix it — so it is
    tried again on every ``up``. This spares each ``up`` the forked prober (≈ 0.2 s) once it has run.
    """
    from netlab.core.catalog import canonical_name

    names = [canonical_name(r.feature) for r in reqs]
    cache = _cache_path(cache_dir)
    known = _read_cache(cache)
    unknown = [n for n in dict.fromkeys(names) if n not in known]
    answers = {}
    if unknown:  # the prober only then: once every answer is cached, `up` need not import it
        from netlab.kernel.features import detect_many

        answers = {st.name: st for st in detect_many(unknown)}
    fresh = [n for n, st in answers.items() if st.available]
    if fresh:
        _write_cache(cache, known | set(fresh))
    out = []
    for req, name in zip(reqs, names, strict=True):
        st = answers.get(name)
        if st is not None and not st.available:
            out.append(Missing(req, st.how, st.detail))
    return out


def _cache_path(cache_dir: Path | None) -> Path | None:
    from netlab.paths import boot_id, run_dir

    boot = boot_id()
    if boot is None or os.geteuid() != 0:
        return None  # no boot id, or not root (the run directory is root's): detect every time
    return (cache_dir or run_dir()) / f"features-{boot}.json"


def _read_cache(path: Path | None) -> set[str]:
    """The features known to be available; a planted or unreadable file counts as no cache."""
    from netlab import paths

    if path is None:
        return set()
    try:
        paths.check_dir(path.parent)
        text = paths.read_file(path)
        data = json.loads(text) if text else []
    except (OSError, ValueError, paths.UnsafeRunDir):
        return set()
    return {str(x) for x in data} if isinstance(data, list) else set()


def _write_cache(path: Path | None, available: set[str]) -> None:
    from netlab import paths

    if path is None:
        return
    try:
        paths.make_dir(path.parent)
        paths.write_file(path, json.dumps(sorted(available)))
    except (OSError, paths.UnsafeRunDir):
        pass  # a cache that cannot be written only costs time


def _package_fix(item: Missing) -> str | None:
    """The apt package that fixes ``item``, if a package does (a program, or iptables' own binaries)."""
    from netlab.core.catalog import TOOL_PACKAGES, TOOL_PREFIX

    feature = item.requirement.feature
    if feature.startswith(TOOL_PREFIX):
        tool = feature[len(TOOL_PREFIX):]
        return TOOL_PACKAGES.get(tool, tool)
    if item.detail.startswith("apt-get install"):
        return item.detail.split()[-1]
    return None


def describe_missing(lab: str, items: list[Missing]) -> str:
    """The refusal of ``up``: what is missing, how it was checked, and the remedy that fits each cause --
    a package for a missing program, the full-kernel VM for a missing kernel feature."""
    lines = [f"lab {lab} needs what this machine does not have; nothing was created:"]
    for item in items:
        lines.append(f"  - {item.requirement.feature}: {item.requirement.reason}")
        lines.append(f"      checked: {item.how}")
    packages = sorted({p for p in map(_package_fix, items) if p})
    kernel = [i for i in items if _package_fix(i) is None]
    if packages:
        lines.append(f"    hint: install the missing programs: apt-get install -y {' '.join(packages)}")
    if kernel:
        lines.append("    hint: this kernel lacks " + ", ".join(i.requirement.feature for i in kernel)
                     + f": run the lab in a full-kernel VM: `netlab vm run {lab}` (or `netlab vm shell`, then "
                     f"`netlab up {lab}` inside); `netlab doctor` lists what this machine has")
    return "\n".join(lines)
