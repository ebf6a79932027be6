"""Labs for real, for the root tests: the CLI as a user runs it, copies of catalog labs under names of their
own, and up/down through the public :class:`netlab.api.Lab` with the leak check of the pytest plugin.

Why one copy: a lab brought up by a test must come down with the same check everywhere (a test module that
forgot the leak check let a leaking ``down`` pass), and a catalog lab copied under another name must be
renamed the same way everywhere (its lab-comment tags too), so suites sharing a machine never collide.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netlab.api import Lab
from netlab.pytest_plugin import leftovers

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "topologies"


def netlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as a user would."""
    return subprocess.run([sys.executable, "-m", "netlab", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, check=False)


def root_snapshot() -> dict[str, str]:
    """What a lab must never change: the root namespace's links, addresses, routes and key sysctls."""
    out = {}
    for name, argv in {"links": ["ip", "-o", "link"], "addrs": ["ip", "-o", "addr"],
                       "routes": ["ip", "route", "show", "table", "all"]}.items():
        text = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        # operstate/carrier counters may flicker; keep names, flags and addresses
        out[name] = "\n".join(sorted(line.split(" state ")[0] for line in text.splitlines()))
    for key in ("net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/all/arp_ignore",
                "net/ipv6/conf/all/disable_ipv6"):
        p = Path("/proc/sys") / key
        out[key] = p.read_text() if p.exists() else ""
    return out


def netns_of(lab: str) -> list[str]:
    """Namespaces that carry this lab's tag (what a leak check must find empty)."""
    from netlab.stages.teardown import tagged_namespaces

    return sorted(name for name, tag in tagged_namespaces() if tag.lab == lab)


def state_file(lab: str) -> Path:
    return Path("/run/netlab/labs") / f"{lab}.json"


def assert_nothing_left(lab: str) -> None:
    """No tagged namespace, no state file and no file under /run/netns of lab ``lab``."""
    assert netns_of(lab) == [], f"namespaces of {lab} left behind"
    assert not state_file(lab).exists(), f"state file of {lab} left behind"
    leftover = [p.name for p in Path("/run/netns").glob(f"nl-{lab}.*")] if Path("/run/netns").is_dir() else []
    assert leftover == [], f"files under /run/netns left behind: {leftover}"


def catalog_copy(directory: Path, catalog_name: str, name: str, extra_probes: str = "") -> Path:
    """Catalog lab ``catalog_name`` written to ``directory/<name>.yml`` as lab ``name`` (its ``netlab:<lab>``
    rule comments follow), with ``extra_probes`` (YAML list items) appended to its probes."""
    text = (CATALOG / f"{catalog_name}.yml").read_text()
    text = text.replace(f"name: {catalog_name}", f"name: {name}", 1).replace(f"netlab:{catalog_name}", f"netlab:{name}")
    if extra_probes:
        assert "\nprobes:\n" in text, "the catalog file has a probes list"
        text = text.replace("\nprobes:\n", "\nprobes:\n" + extra_probes.lstrip("\n").rstrip("\n") + "\n", 1)
    path = directory / f"{name}.yml"
    path.write_text(text)
    return path


def run_copy(directory: Path, catalog_name: str, name: str, probes: int, timeout: float = 180) -> None:
    """``netlab run`` of catalog lab ``catalog_name`` copied as lab ``name``: exit 0 and all ``probes`` passed."""
    done = netlab("run", str(catalog_copy(directory, catalog_name, name)), timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert f"{probes} of {probes} probes passed" in done.stdout


def run_results(ref: str, timeout: float = 300) -> dict[str, dict[str, Any]]:
    """``netlab run REF --json``, asserted to pass (naming every failed verdict); its results by probe name."""
    done = netlab("run", ref, "--json", timeout=timeout)
    results = {x["name"]: x for x in json.loads(done.stdout)["results"]}
    assert done.returncode == 0, [x["verdict"] for x in results.values() if not x["passed"]]
    return results


def up(ref: str | Path, name_suffix: str | None = None) -> Lab:
    """``Lab.load(ref)`` brought up fresh (``recreate``: a lab a crashed run left up is rebuilt)."""
    lab = Lab.load(ref, name_suffix=name_suffix)
    lab.up(recreate=True)
    return lab


def down(lab: Lab) -> None:
    """Take ``lab`` down and assert it left nothing: no tagged namespace, state file or live service."""
    state = lab.store.read(lab.name)
    lab.down()
    assert leftovers(lab.name, state, lab.store) == []


@contextmanager
def running(ref: str | Path, name_suffix: str | None = None) -> Iterator[Lab]:
    """``with running("routed") as lab:`` up for the block, down (with the leak check) after it."""
    lab = up(ref, name_suffix)
    try:
        yield lab
    finally:
        down(lab)
