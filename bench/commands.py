#!/usr/bin/env python3
"""Wall time of everyday netlab commands as processes, next to what the same work costs with plain tools.

    sudo python bench/commands.py                    # lab routed, median of 7
    sudo python bench/commands.py --repeat 11 --json commands.json

What a user feels is the whole process: interpreter start, imports, reading the state, the kernel work. Each
command runs ``--repeat`` times and the table shows the median and the spread (min-max). The plain-tool
lines build and remove the same lab as `netlab export routed` writes it (one ``ip``/``sysctl`` per line, as a
tutorial would), so "netlab up + down" has a yardstick measured in the same run. Needs root and ``ip``. It
never touches the root namespace's interfaces: run it inside ``scripts/isolated`` to keep even /run/netns
private (``scripts/isolated python bench/commands.py``).

Targets (issue [speed]): ``up`` + ``down`` of routed ≤ 0.25 s together; ``probe routed`` ≤ 0.6 s. ``up`` of a file
brought up before reads its compiled plan from a cache (netlab.stages.compile_cache); the "first time" rows empty
that cache before each ``up``, so they show what a new or edited topology costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = "routed"


def run(argv: list[str], ok: tuple[int, ...] = (0,)) -> float:
    """Wall time of one process; it must exit with a code in ``ok``."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    # cwd: `python -m netlab` puts the working directory first on sys.path, before PYTHONPATH -- run from another
    # checkout, the commands would time that checkout's netlab (a before/after comparison measured one tree twice)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def forget_compiled() -> None:
    """Empty the compiled-lab cache (netlab.stages.compile_cache): the next ``up`` of the file compiles it."""
    subprocess.run([sys.executable, "-c", "from netlab import paths; from netlab.stages import compile_cache; "
                    "compile_cache.clear(paths.run_dir())"], env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO,
                   check=True)


def netlab(*args: str, ok: tuple[int, ...] = (0,)) -> float:
    return run([sys.executable, "-m", "netlab", *args], ok)


def export_script(workdir: Path) -> Path:
    """``netlab export routed``: the lab as a bash script with ``up`` and ``down`` (the plain-tool yardstick)."""
    script = workdir / "routed.sh"
    proc = subprocess.run([sys.executable, "-m", "netlab", "export", LAB, "-o", str(script)],
                          env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, check=False,
                          cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"netlab export failed: {proc.stderr}")
    return script


Step = tuple[str, list[str]] | tuple[str, list[str], Callable[[], None]]


def sample(label: str, repeat: int, once: list[Step], log: bool) -> dict[str, list[float]]:
    """Each round runs the ``once`` steps in order (up, status, probe, down…) and times each; a step's third
    item, if any, runs untimed before it."""
    times: dict[str, list[float]] = {step[0]: [] for step in once}
    for i in range(repeat):
        for step in once:
            if len(step) == 3:
                step[2]()
            times[step[0]].append(run(step[1]))
        if log:
            loads = os.getloadavg()[0]
            sys.stderr.write(f"  {label} round {i + 1}/{repeat}: "
                             + ", ".join(f"{n} {t[-1]:.3f}" for n, t in times.items()) + f" (load {loads:.2f})\n")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (the table shows medians)")
    parser.add_argument("--json", metavar="FILE", help="also write every sample as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-round lines on stderr")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/commands.py needs root (it brings lab routed up and down)")
    py = [sys.executable, "-m", "netlab"]
    netlab("down", LAB)  # a lab left up by an interrupted run
    rounds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="netlab-bench-") as tmp:
        script = export_script(Path(tmp))
        rounds |= sample("light", args.repeat, [
            ("netlab --version", [*py, "--version"]),
            ("netlab --help", [*py, "--help"]),
            ("netlab list", [*py, "list"]),
            ("netlab status (no lab)", [*py, "status"]),
        ], not args.quiet)
        rounds |= sample("first", args.repeat, [
            ("netlab up routed, first time (not cached)", [*py, "up", LAB], forget_compiled),
            ("netlab down routed (after it)", [*py, "down", LAB]),
        ], not args.quiet)
        rounds |= sample("routed", args.repeat, [
            ("netlab up routed", [*py, "up", LAB]),
            ("netlab status routed", [*py, "status", LAB]),
            ("netlab exec routed client -- true", [*py, "exec", LAB, "client", "--", "true"]),
            ("netlab probe routed", [*py, "probe", LAB]),
            ("netlab down routed", [*py, "down", LAB]),
        ], not args.quiet)
        rounds |= sample("plain", args.repeat, [
            ("bash routed.sh up (ip, sysctl per line)", ["bash", str(script), "up"]),
            ("bash routed.sh down", ["bash", str(script), "down"]),
        ], not args.quiet)
    med = {name: statistics.median(ts) for name, ts in rounds.items()}
    together = [u + d for u, d in zip(rounds["netlab up routed"], rounds["netlab down routed"], strict=True)]
    plain = [u + d for u, d in zip(rounds["bash routed.sh up (ip, sysctl per line)"], rounds["bash routed.sh down"],
                                   strict=True)]
    print(f"netlab commands as processes, median of {args.repeat} (seconds; min-max)")
    print("| command | median | min-max |")
    print("|---|---|---|")
    for name, ts in rounds.items():
        print(f"| `{name}` | {med[name]:.3f} | {min(ts):.3f}-{max(ts):.3f} |")
    first = [u + d for u, d in zip(rounds["netlab up routed, first time (not cached)"],
                                   rounds["netlab down routed (after it)"], strict=True)]
    print(f"| **up + down routed** (target ≤ 0.25) | **{statistics.median(together):.3f}** | "
          f"{min(together):.3f}-{max(together):.3f} |")
    print(f"| up + down routed, the file's first up | {statistics.median(first):.3f} | "
          f"{min(first):.3f}-{max(first):.3f} |")
    print(f"| plain script up + down | {statistics.median(plain):.3f} | {min(plain):.3f}-{max(plain):.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "repeat": args.repeat, "samples": rounds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
