"""docker-namespaces for real: a node with its own uts/ipc/pid/mnt namespaces held by its init; commands, services,
state probes and ``netlab exec`` join them; ``down`` (and kill -9 of ``up`` + ``clean``) leave no process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from netlab.kernel.netns import netns_path
from netlab.kernel.nodeinit import node_init, own_namespaces
from netlab.stages.record import StateStore
from tests.helpers import catalog_copy, netlab, run_copy, running

pytestmark = pytest.mark.root


def _init_of(netns: str) -> int | None:
    fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        return node_init(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_docker_namespaces_passes_its_probes(tmp_path: Path) -> None:
    run_copy(tmp_path, "docker-namespaces", "isolation-run", probes=12)


def test_exec_joins_the_init_and_down_stops_everything_inside(tmp_path: Path) -> None:
    with running(catalog_copy(tmp_path, "docker-namespaces", "isolation-exec")) as lab:
        init = _init_of("nl-isolation-exec.box")
        assert init is not None and own_namespaces(init) == ["uts", "ipc", "mnt", "pid"]
        assert _init_of("nl-isolation-exec.plain") is None
        inside = netlab("exec", lab.name, "box", "--", "sh", "-c", "echo $$; hostname; cat /proc/1/comm")
        pid, hostname, comm = inside.stdout.split()
        assert (int(pid) < 50, hostname, comm) == (True, "box", "netlab-init"), inside.stdout
        # a state probe that outlives its timeout inside the pid namespace is killed, not waited for
        started = time.monotonic()
        from netlab.probes.nsfork import exec_in

        done = exec_in("nl-isolation-exec.box", ["sh", "-c", "sleep 30"], timeout=1)
        assert done.exit is None and time.monotonic() - started < 10
        service = next(p.pid for p in lab.store.read(lab.name).processes if p.node == "box" and "http" in p.what)
    assert not _alive(init) and not _alive(service)


def test_clean_after_kill_9_stops_the_init(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "docker-namespaces", "isolation-clean")
    assert netlab("up", str(path)).returncode == 0
    init = _init_of("nl-isolation-clean.box")
    assert init is not None
    StateStore().path("isolation-clean").unlink()  # as if up had been killed before it wrote its state
    done = netlab("clean")
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 5
    while _alive(init) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(init)
