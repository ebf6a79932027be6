"""Chaos run: kill -9 netlab at random moments, then `netlab clean`, and count what is left; then cycles of
up, probes and down. A benchmark a developer runs, not a timed test.

    sudo python bench/chaos.py --kills 80 --cycles 100          # prints the counts; exit 1 if anything leaked

It re-executes itself in a private mount + network namespace (scripts/isolated): every lab it builds, and
every leftover it might find, stays out of this machine's root namespace.

Checked after every kill + clean: no namespace with a netlab tag, no file under /run/netns, no mount of
one, no state or temporary file under the run directory, no process left in a lab namespace. The lab is
``routed`` plus a 40-node star (``--star``), so a kill lands in every phase: namespaces, links, addresses,
routes, sysctls, services.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def netlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netlab", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, check=False)


def star(path: Path, n: int) -> Path:
    lines = ["name: chaos-star", "nodes:", "  hub:", "    services: [{kind: tcp-echo, port: 7}]"]
    lines += [f"  h{i}: {{}}" for i in range(n)]
    lines += ["lans:", "  seg:", "    members:", "      - {node: hub, address: 10.9.0.1/16}"]
    lines += [f"      - {{node: h{i}, address: 10.9.{1 + i // 250}.{1 + i % 250}/16}}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def leftovers() -> list[str]:
    """Everything a crashed netlab could have left, found without trusting netlab's own bookkeeping."""
    from netlab.stages.teardown import pids_in_namespaces, tagged_namespaces

    found = [f"tagged namespace {name}" for name, _ in tagged_namespaces()]
    netns = Path("/run/netns")
    found += [f"/run/netns/{p.name}" for p in netns.iterdir()] if netns.is_dir() else []
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line.split()[4]}" for line in mounts.splitlines() if "/run/netns/" in line.split()[4]]
    run = Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab")) / "labs"
    found += [f"state {p.name}" for p in run.iterdir()] if run.is_dir() else []
    names = [p.name for p in netns.iterdir()] if netns.is_dir() else []
    found += [f"process {pid}" for pids in pids_in_namespaces(names).values() for pid in pids]
    return found


def kill_during(args: list[str], lo: float, hi: float) -> float:
    proc = subprocess.Popen([sys.executable, "-m", "netlab", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    delay = random.uniform(lo, hi)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return delay


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=40, help="kill -9 during up (and as many during down)")
    parser.add_argument("--cycles", type=int, default=50, help="up + probes + down cycles of routed")
    parser.add_argument("--star", type=int, default=40, help="nodes of the star lab killed mid-up")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if os.environ.get("NETLAB_ISOLATED") != "1":
        os.execvpe(str(REPO / "scripts" / "isolated"), [str(REPO / "scripts" / "isolated"), "env",
                                                       "NETLAB_ISOLATED=1", sys.executable, *sys.argv], os.environ)
    random.seed(args.seed)
    lab = star(Path(tempfile.mkdtemp()) / "star.yml", args.star)
    counts = {"kills during up": 0, "kills during down": 0, "cleans": 0, "leaks": 0, "cycles": 0,
              "probes passed": 0, "probes failed": 0}
    leaked: list[str] = []
    start = time.monotonic()
    for i in range(args.kills):
        target = str(lab) if i % 2 else "routed"
        kill_during(["up", target], 0.0, 0.6)
        counts["kills during up"] += 1
        if i % 4 == 3:  # sometimes the lab got all the way up: kill its down, too
            netlab("up", target)
            kill_during(["down", "chaos-star" if i % 2 else "routed"], 0.0, 0.2)
            counts["kills during down"] += 1
        r = netlab("clean", "--all")
        counts["cleans"] += r.returncode == 0
        left = leftovers()
        if left:
            counts["leaks"] += 1
            leaked += left
    for _ in range(args.cycles):
        netlab("up", "routed")
        r = netlab("probe", "routed", "--json")
        import json

        results = json.loads(r.stdout)["results"] if r.stdout.strip().startswith("{") else []
        counts["probes passed"] += sum(1 for x in results if x["passed"])
        counts["probes failed"] += sum(1 for x in results if not x["passed"])
        netlab("down", "routed")
        counts["cycles"] += 1
        if leftovers():
            counts["leaks"] += 1
            leaked += leftovers()
    for key, value in counts.items():
        print(f"{key:>20}: {value}")
    print(f"{'seconds':>20}: {time.monotonic() - start:.1f}")
    if leaked:
        print("left behind:", *sorted(set(leaked))[:20], sep="\n  ")
    return 1 if leaked or counts["probes failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
