"""Where the time of a big star goes, for netlab and for ``ip -batch``: what bounds ``up`` from below.

``ip -batch`` in parts: the serial root batch (``netns add`` of every namespace, then every ``link add``: kernel
work in one process) and the per-namespace batches (``nsenter … ip -batch`` per namespace, two at a time, as
bench/star.py runs them). netlab's API ``up`` by phase, with the process's user and system CPU in each (the
namespace phase runs on two threads). Run as root inside ``scripts/isolated``:

    scripts/isolated python bench/star_floor.py --nodes 1000 --rounds 2
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.star import BRIDGE_IPV6_OFF, PARALLEL, Baseline, star


def _cpu(who: int) -> tuple[float, float]:
    usage = resource.getrusage(who)
    return usage.ru_utime, usage.ru_stime


def baseline(n: int, workdir: Path) -> str:
    shape = star(n)
    b = Baseline(shape, "star", workdir)
    links = "\n".join(line.format(p=b.prefix) for line in shape.links) + "\n"
    jobs = [(f"/run/netns/{b.prefix}-{ns}", shape.bridges.get(ns, ""), "\n".join(lines) + "\n")
            for ns, lines in shape.per_ns.items()]

    def inside(job: tuple[str, str, str]) -> None:
        path, bridge, text = job
        argv = ["sh", "-c", BRIDGE_IPV6_OFF.format(bridge)] if bridge else ["ip", "-batch", "-"]
        subprocess.run(["nsenter", f"--net={path}", *argv], input=text, capture_output=True, text=True, check=True)

    marks = [(time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN))]
    b.made = list(b.names)
    try:
        subprocess.run(["ip", "-batch", "-"], input="".join(f"netns add {x}\n" for x in b.names), text=True,
                       check=True, capture_output=True)
        marks.append((time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)))
        subprocess.run(["ip", "-batch", "-"], input=links, text=True, check=True, capture_output=True)
        marks.append((time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)))
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(inside, jobs))
        marks.append((time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)))
    finally:
        b.down()
    total = marks[-1][0] - marks[0][0]
    parts = [f"{name} {t1 - t0:.2f} s (user {c1[0] - c0[0]:.2f}, sys {c1[1] - c0[1]:.2f})"
             for name, (t0, c0), (t1, c1) in zip(("netns add", "link add", "per namespace"), marks, marks[1:],
                                                 strict=False)]
    return f"ip -batch {total:.2f} s: " + "; ".join(parts)


def netlab(n: int, workdir: Path) -> str:
    from netlab.api import Lab, down

    path = workdir / f"bstar-floor-{n}.yml"
    path.write_text(star(n).yaml)
    lab = Lab.load(str(path))
    lab.plan()
    marks: dict[str, list[tuple[float, tuple[float, float]]]] = {}

    def progress(phase: str, _done: int, _total: int) -> None:
        marks.setdefault(phase, []).append((time.perf_counter(), _cpu(resource.RUSAGE_SELF)))

    start = time.perf_counter()
    lab.up(progress=progress)
    total = time.perf_counter() - start
    down(lab.name)
    parts = [f"{phase} {t1 - t0:.2f} s (user {c1[0] - c0[0]:.2f}, sys {c1[1] - c0[1]:.2f})"
             for phase, ((t0, c0), *_, (t1, c1)) in marks.items() if t1 - t0 >= 0.01]
    return f"netlab API up {total:.2f} s: " + "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="netlab-floor-") as work:  # the lab file, removed afterwards
        for r in range(args.rounds):
            print(f"round {r + 1}, N={args.nodes}: {baseline(args.nodes, Path(work))}", flush=True)
            time.sleep(3)  # namespaces are destroyed asynchronously: let the kernel finish before the next build
            print(f"round {r + 1}, N={args.nodes}: {netlab(args.nodes, Path(work))}", flush=True)
            time.sleep(3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
