#!/usr/bin/env python3
"""Benchmark: build and remove a lab of N nodes with netlab, against an equivalent ``ip -batch`` script.

    python bench/star.py [--sizes 10,100,1000] [--repeat 3] [--shape star|chain] [--json FILE] [--mininet]

Needs root. Not a test: it prints a table of medians and the ratios netlab / ``ip -batch``.
Method and fairness rules are in bench/README.md; the short version:

* ``star``: N hosts on LANs of up to 1000 (a bridge in a namespace of its own each: a Linux bridge takes at
  most 1023 ports), one IPv4 address each (/24 up to 253 hosts, /22 per LAN above). ``chain``: N routers
  in a line, a /31 per link, a default route from each router towards the first one. No IPv6 in either, so netlab keeps
  IPv6 silent (address generation mode none on every interface before it comes up, IPv6 off on the
  bridge); the baseline does the same, the same way.
* netlab is timed in-process through the Python API (``Lab.load`` separately, then ``up`` and
  ``down``) and as the user runs it (``python -m netlab up FILE`` / ``down NAME`` in a subprocess,
  interpreter start and imports included) twice: "first" with the compiled-lab cache emptied (a new or edited
  file: load, validate, resolve, plan), then again (the file's compiled plan read back from the cache).
* The baseline is one ``ip -batch`` for the namespaces and links (both veth ends created directly in
  their namespaces) plus one ``nsenter --net=/run/netns/NAME ip -batch`` per namespace (``addrgenmode
  none`` and up for each link, addresses, routes), two at a time; teardown is one ``ip -batch`` of
  ``netns del``.
* ``--mininet``: Mininet builds the same star (one Linux bridge, no controller: bench/mininet_star.py), up to
  1000 hosts, if the system Python can import it; its column is Mininet's build + start.
* Between measurements the script waits until the kernel has finished destroying the namespaces of
  the previous one (``ip netns del`` and ``netlab down`` only unmount; the kernel frees a namespace
  later, on a worker thread that would otherwise eat into the next measurement).

Everything a run makes is removed before it exits, also on Ctrl-C: the netlab lab with ``down``,
the baseline's namespaces with ``ip netns del`` by their exact names (and only those the baseline
itself created; it refuses to start if one of its names already exists).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BASELINE_PREFIX = "nb"  # baseline namespaces: nb-<shape>-<node>; netlab's are nl-<lab>-<node>
PARALLEL = 2  # per-namespace ip -batch processes at a time (the machine has 2 cores)
BRIDGE_IPV6_OFF = "echo 1 > /proc/sys/net/ipv6/conf/{}/disable_ipv6 && exec ip -batch -"
"""What netlab does to a bridge (netlab.kernel.proc.bridge_ipv6_off): addrgenmode none does not stop the MLD
report of its ff02::6a (all-snoopers) join, IPv6 off does; one /proc write per bridge, not per namespace."""


# ------------------------------------------------------------------------------------------ shapes

@dataclass
class Shape:
    """One generated lab: its netlab YAML and the equivalent iproute2 commands."""

    lab: str
    yaml: str
    namespaces: list[str]
    """Namespace names of the baseline (without prefix: the node or LAN name)."""
    links: list[str] = field(default_factory=list)
    """Root-namespace ``ip -batch`` lines after the ``netns add`` lines (``{p}`` = baseline prefix)."""
    per_ns: dict[str, list[str]] = field(default_factory=dict)
    """``ip -batch`` lines to run inside each namespace."""
    bridges: dict[str, str] = field(default_factory=dict)
    """Namespace → its bridge, whose IPv6 is turned off before that namespace's lines run."""
    probe: tuple[str, str] = ("", "")
    """(node, address) for a ping after ``up`` that shows the build works."""


def up_lines(ifname: str, master: str = "") -> list[str]:
    """An interface up as netlab brings one up in a lab without IPv6: address generation mode none first (no
    link-local address, hence no DAD, router solicitation or MLD report), in a command of its own, since
    ``link set X addrgenmode none up`` sets the flags first (netlab.kernel.rtnl.no_link_local)."""
    return [f"link set {ifname} addrgenmode none", f"link set {ifname}{master} up"]


LAN_PORTS = 1000
"""Hosts per LAN: a Linux bridge takes at most 1023 ports (netlab.core.kernel_limits.BRIDGE_MAX_PORTS), so a larger
star is several LANs of 1000, each a bridge in a namespace of its own and a subnet of its own."""


def star(n: int) -> Shape:
    """N hosts h1..hN on LANs ``lan1``, ``lan2``… of up to LAN_PORTS hosts: a bridge in its own namespace per LAN,
    a veth per host, one /22 (/24 up to 253 hosts) per LAN."""
    per_lan = min(n, LAN_PORTS)
    prefix = min(24, 32 - (per_lan + 1).bit_length())
    lans = (n + LAN_PORTS - 1) // LAN_PORTS
    nets = [ipaddress.ip_network(f"10.{20 + k // 64}.{(k % 64) * 4}.0/{prefix}") for k in range(lans)]
    lan_of = [(i - 1) // LAN_PORTS for i in range(1, n + 1)]
    addr = [f"{nets[lan_of[i - 1]].network_address + ((i - 1) % LAN_PORTS) + 1}/{prefix}" for i in range(1, n + 1)]
    lines = ["name: bstar", "nodes:"]
    lines += [f"  h{i}: {{}}" for i in range(1, n + 1)]
    lines.append("lans:")
    for k in range(lans):
        lines += [f"  lan{k + 1}:", "    members:"]
        lines += [f"      - {{node: h{i}, address: {addr[i - 1]}}}" for i in range(1, n + 1) if lan_of[i - 1] == k]
    shape = Shape("bstar", "\n".join(lines) + "\n", [f"h{i}" for i in range(1, n + 1)]
                  + [f"lan{k + 1}" for k in range(lans)])
    for k in range(lans):
        shape.links.append(f"link add br0 netns {{p}}-lan{k + 1} type bridge")
        shape.per_ns[f"lan{k + 1}"] = ["link set br0 up"]
        shape.bridges[f"lan{k + 1}"] = "br0"
    for i in range(1, n + 1):
        lan = f"lan{lan_of[i - 1] + 1}"
        shape.links.append(f"link add eth0 netns {{p}}-h{i} type veth peer name h{i} netns {{p}}-{lan}")
        shape.per_ns[f"h{i}"] = ["link set lo up", *up_lines("eth0"), f"addr add {addr[i - 1]} dev eth0"]
        shape.per_ns[lan] += up_lines(f"h{i}", " master br0")
    last_of_first = min(n, LAN_PORTS)
    shape.probe = ("h1", addr[last_of_first - 1].split("/")[0])
    return shape


def chain(n: int) -> Shape:
    """N routers r1..rN in a line; link k is a /31; every router but r1 has a default route towards r1."""
    base = ipaddress.ip_address("10.64.0.0")
    lines = ["name: bchain", "nodes:", "  r1: {}"]
    for i in range(2, n + 1):
        lines.append(f"  r{i}: {{routes: [{{to: default, via: {base + 2 * (i - 2)}}}]}}")
    lines.append("links:")
    shape = Shape("bchain", "", [f"r{i}" for i in range(1, n + 1)])
    for i in range(1, n + 1):
        shape.per_ns[f"r{i}"] = ["link set lo up"]
    for k in range(n - 1):
        left, right = f"r{k + 1}", f"r{k + 2}"
        a, b = base + 2 * k, base + 2 * k + 1
        # netlab names a node's interfaces eth0, eth1, … in the order its links appear
        lif = "eth0" if k == 0 else "eth1"
        lines.append(f"  - {{a: {{node: {left}, address: {a}/31}}, b: {{node: {right}, address: {b}/31}}}}")
        shape.links.append(f"link add {lif} netns {{p}}-{left} type veth peer name eth0 netns {{p}}-{right}")
        shape.per_ns[left] += [*up_lines(lif), f"addr add {a}/31 dev {lif}"]
        shape.per_ns[right] += [*up_lines("eth0"), f"addr add {b}/31 dev eth0"]
    for k in range(n - 1):  # routes after every address of the node is in place
        shape.per_ns[f"r{k + 2}"].append(f"route add default via {base + 2 * k}")
    shape.yaml = "\n".join(lines) + "\n"
    shape.probe = (f"r{n}", str(base + 2 * (n - 2)))  # the last router reaches its gateway
    return shape


SHAPES: dict[str, Callable[[int], Shape]] = {"star": star, "chain": chain}


# ------------------------------------------------------------------------------------------ kernel

def _netns_slab() -> int | None:
    """Live ``struct net`` objects (from /proc/slabinfo): falls back to the baseline once the kernel
    has finished destroying what we removed."""
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith("net_namespace "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _busy() -> float:
    """Share of CPU time not idle over the next 0.2 s."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]

    t0, i0 = sample()
    time.sleep(0.2)
    t1, i1 = sample()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def settle(reference: int | None, timeout: float = 120.0) -> float:
    """Wait until the kernel has freed the namespaces we removed (slab count back to ``reference``,
    or no longer falling) and the CPUs are quiet (or 10 s have passed: someone else may be busy).
    Returns the seconds waited."""
    start = time.monotonic()
    last, still = _netns_slab(), 0
    while time.monotonic() - start < timeout:
        busy = _busy()
        now = _netns_slab()
        freed = reference is None or now is None or now <= reference + 8
        still = still + 1 if now == last else 0
        last = now
        if (freed or still >= 10) and (busy < 0.5 or time.monotonic() - start > 10):
            break
    return time.monotonic() - start


# ------------------------------------------------------------------------------------------ netlab

def cli(*args: str) -> float:
    """Wall time of ``python -m netlab ARGS`` (what the user sees: interpreter, imports, work)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "netlab", *args], env=env, capture_output=True, text=True,
                          check=False, cwd=REPO)  # `-m` puts the working directory first on sys.path
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"netlab {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def ping(netns: str, address: str) -> bool:
    proc = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "ping", "-c1", "-W2", address],
                          capture_output=True, check=False)
    return proc.returncode == 0


# ------------------------------------------------------------------------------------------ baseline

class Baseline:
    """The ``ip -batch`` build of a shape, in namespaces named ``nb-<shape>-<node>``."""

    def __init__(self, shape: Shape, name: str, workdir: Path) -> None:
        self.shape = shape
        self.prefix = f"{BASELINE_PREFIX}-{name}"
        self.workdir = workdir
        self.names = [f"{self.prefix}-{ns}" for ns in shape.namespaces]
        self.made: list[str] = []

    def up(self) -> float:
        taken = [n for n in self.names if os.path.lexists(f"/run/netns/{n}")]
        if taken:
            raise RuntimeError(f"baseline namespaces already exist (not ours to remove): {taken[:5]}")
        root = [f"netns add {n}" for n in self.names] + [line.format(p=self.prefix) for line in self.shape.links]
        root_text = "\n".join(root) + "\n"
        jobs = [(f"/run/netns/{self.prefix}-{ns}", self.shape.bridges.get(ns, ""), "\n".join(lines) + "\n")
                for ns, lines in self.shape.per_ns.items()]
        self.made = list(self.names)  # from here on, ours to remove (ip -batch may stop half-way)

        def inside(job: tuple[str, str, str]) -> subprocess.CompletedProcess[str]:
            path, bridge, text = job
            argv = ["sh", "-c", BRIDGE_IPV6_OFF.format(bridge)] if bridge else ["ip", "-batch", "-"]
            return subprocess.run(["nsenter", f"--net={path}", *argv], input=text, capture_output=True, text=True,
                                  check=False)

        start = time.perf_counter()
        first = subprocess.run(["ip", "-batch", "-"], input=root_text, capture_output=True, text=True,
                               check=False)
        if first.returncode != 0:
            raise RuntimeError(f"baseline ip -batch failed: {first.stderr[:500]}")
        with ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(inside, jobs))
        elapsed = time.perf_counter() - start
        bad = [r.stderr for r in results if r.returncode != 0]
        if bad:
            raise RuntimeError(f"baseline per-namespace ip -batch failed ({len(bad)}): {bad[0][:500]}")
        return elapsed

    def down(self) -> float:
        mine = [n for n in self.made if os.path.lexists(f"/run/netns/{n}")]
        start = time.perf_counter()
        proc = subprocess.run(["ip", "-batch", "-"], input="".join(f"netns del {n}\n" for n in mine),
                              capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            self.cleanup()
            raise RuntimeError(f"baseline teardown failed: {proc.stderr[:500]}")
        self.made = []
        return elapsed

    def cleanup(self) -> None:
        """Remove what this baseline made, one exact name at a time; never anything else."""
        for name in self.made:
            if os.path.lexists(f"/run/netns/{name}"):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self.made = []


# ------------------------------------------------------------------------------------------ run

def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def bench_size(shape_name: str, n: int, repeat: int, workdir: Path, check: bool, gap: float,
               log: Callable[[str], None]) -> dict[str, object]:
    from netlab import paths
    from netlab.api import Lab, down
    from netlab.naming import netns_name
    from netlab.stages import compile_cache

    shape = SHAPES[shape_name](n)
    topo = workdir / f"{shape.lab}-{n}.yml"
    topo.write_text(shape.yaml)
    baseline = Baseline(shape, shape_name, workdir)
    samples: dict[str, list[float]] = {k: [] for k in (
        "load", "up_api", "down_api", "up_cli_first", "up_cli", "down_cli", "up_ip", "down_ip")}
    reference = _netns_slab()
    lab_up = False

    def quiet() -> None:
        settle(reference)
        time.sleep(gap)

    try:
        for r in range(repeat):
            quiet()
            t = time.perf_counter()
            lab = Lab.load(topo)
            samples["load"].append(time.perf_counter() - t)
            t = time.perf_counter()
            lab_up = True
            lab.up()
            samples["up_api"].append(time.perf_counter() - t)
            if check and r == 0 and not ping(netns_name(shape.lab, shape.probe[0]), shape.probe[1]):
                log(f"  warning: netlab {shape_name} N={n}: ping {shape.probe} failed")
            t = time.perf_counter()
            down(shape.lab)
            samples["down_api"].append(time.perf_counter() - t)
            lab_up = False

            quiet()
            compile_cache.clear(paths.run_dir())  # the file's first `up`: load, validate, resolve, plan
            lab_up = True
            samples["up_cli_first"].append(cli("up", str(topo)))
            cli("down", shape.lab)
            lab_up = False
            quiet()
            lab_up = True
            samples["up_cli"].append(cli("up", str(topo)))  # again: its compiled plan read from the cache
            samples["down_cli"].append(cli("down", shape.lab))
            lab_up = False

            quiet()
            samples["up_ip"].append(baseline.up())
            if check and r == 0 and not ping(f"{baseline.prefix}-{shape.probe[0]}", shape.probe[1]):
                log(f"  warning: baseline {shape_name} N={n}: ping {shape.probe} failed")
            samples["down_ip"].append(baseline.down())
            log(f"  {shape_name} N={n} run {r + 1}/{repeat}: " + "  ".join(
                f"{k} {v[-1]:.3f}" for k, v in samples.items()) + f"  (load avg {os.getloadavg()[0]:.2f})")
    finally:
        if lab_up:
            down(shape.lab)
        baseline.cleanup()
        settle(reference)
    med = {k: median(v) for k, v in samples.items()}
    return {"shape": shape_name, "n": n, "samples": samples, "median": med,
            "ratio_up_api": med["up_api"] / med["up_ip"], "ratio_up_cli": med["up_cli"] / med["up_ip"],
            "ratio_up_cli_first": med["up_cli_first"] / med["up_ip"],
            "ratio_down_cli": med["down_cli"] / med["down_ip"]}


MININET_PYTHON = "/usr/bin/python3"
"""Debian's mininet package installs for the system Python, not for netlab's venv."""


def mininet_available() -> bool:
    return subprocess.run([MININET_PYTHON, "-c", "import mininet.net"], capture_output=True,
                          check=False).returncode == 0


def bench_mininet(n: int, repeat: int, log: Callable[[str], None]) -> dict[str, float] | None:
    """Median up and down of Mininet's star (bench/mininet_star.py), or None where it cannot be built (one Linux
    bridge: at most LAN_PORTS hosts)."""
    if n > LAN_PORTS:
        return None
    ups, downs = [], []
    for r in range(repeat):
        settle(_netns_slab())
        proc = subprocess.run([MININET_PYTHON, str(REPO / "bench" / "mininet_star.py"), str(n)], capture_output=True,
                              text=True, check=False, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"mininet N={n} failed ({proc.returncode}): {proc.stderr[-1500:]}{proc.stdout[-500:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        ups.append(float(data["up"]))
        downs.append(float(data["down"]))
        log(f"  mininet N={n} run {r + 1}/{repeat}: up {ups[-1]:.3f}  down {downs[-1]:.3f}")
    return {"up": median(ups), "down": median(downs)}


def table(rows: list[dict[str, object]]) -> str:
    mininet = any(row.get("mininet") for row in rows)
    head = ("| shape | N | load | up API | up CLI, first | up CLI | ip -batch up | first / ip | up CLI / ip "
            "| up API / ip | ms per node (API) "
            "| down API | down CLI | ip -batch down |" + (" Mininet up | Mininet / netlab CLI |" if mininet else ""))
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        m = row["median"]
        assert isinstance(m, dict)
        n = int(str(row["n"]))
        line = (f"| {row['shape']} | {n} | {m['load']:.3f} | {m['up_api']:.3f} | {m['up_cli_first']:.3f} "
                f"| {m['up_cli']:.3f} | {m['up_ip']:.3f} | {row['ratio_up_cli_first']:.2f}x "
                f"| {row['ratio_up_cli']:.2f}x | {row['ratio_up_api']:.2f}x "
                f"| {1000 * m['up_api'] / n:.2f} | {m['down_api']:.3f} | {m['down_cli']:.3f} | {m['down_ip']:.3f} |")
        if mininet:
            mn = row.get("mininet")
            line += (f" {mn['up']:.3f} | {mn['up'] / m['up_cli']:.1f}x |" if isinstance(mn, dict) else " - | - |")
        out.append(line)
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated node counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (the table shows medians)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="star")
    parser.add_argument("--json", metavar="FILE", help="also write every sample as JSON")
    parser.add_argument("--no-check", action="store_true", help="skip the ping after the first build")
    parser.add_argument("--mininet", action="store_true", help="also build the star with Mininet (Linux bridge, no "
                        f"controller; sizes up to {LAN_PORTS}), if /usr/bin/python3 can import it")
    parser.add_argument("--gap", type=float, default=0.0, metavar="SECONDS",
                        help="extra wait before each build (see README: file systems that are slow to reuse "
                             "recently deleted inodes)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 5

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    rows = []
    mininet = args.mininet and args.shape == "star" and mininet_available()
    if args.mininet and not mininet:
        log("Mininet: not importable by /usr/bin/python3 (apt-get install --no-install-recommends mininet "
            "bridge-utils), or not a star: left out")
    with tempfile.TemporaryDirectory(prefix="netlab-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            row = bench_size(args.shape, n, args.repeat, Path(tmp), not args.no_check, args.gap, log)
            if mininet:
                row["mininet"] = bench_mininet(n, args.repeat, log)
            rows.append(row)
    print(f"{args.shape}, median of {args.repeat}, seconds; {os.cpu_count()} CPUs, "
          f"kernel {platform.release()}, Python {platform.python_version()}")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "shape": args.shape, "repeat": args.repeat, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
