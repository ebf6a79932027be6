"""netlab runs as root and reads what others can write: each attack a tester found, replayed.

The attacker's files are written as ``nobody`` (setpriv), root then runs netlab on them; every test runs
inside the private mount + network namespace of the test run (./run tests), with its own /run/netlab.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO, catalog_copy, netlab, netns_of

pytestmark = pytest.mark.root

NOBODY = 65534
RUN = Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))


def as_nobody(script: str, cwd: Path) -> None:
    subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "sh", "-c", script],
                   cwd=cwd, check=True)


@pytest.fixture
def attacker_dir() -> Iterator[Path]:
    """A directory ``nobody`` owns, as /tmp/something would be on a shared machine."""
    path = Path(tempfile.mkdtemp(prefix="netlab-attacker-", dir="/tmp"))
    os.chown(path, NOBODY, NOBODY)
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------------- names from files

def test_a_lab_name_that_climbs_out_of_the_state_directory_is_refused(attacker_dir: Path) -> None:
    """The privilege escalation: `name: ../../../tmp/u/state` next to a forged state whose probe runs `id`."""
    forged = {"lab": "x", "run": "0", "status": "up", "source": "", "topology_sha256": "", "owner_pid": 1,
              "owner_start": 0, "created": 0, "namespaces": [], "processes": [],
              "resolved": {"probes": [{"kind": "state", "name": "p", "from": "x",
                                       "command": ["sh", "-c", f"id > {attacker_dir}/pwned"]}]}}
    as_nobody(f"printf 'name: ../../..{attacker_dir}/state\\nnodes: {{x: {{}}}}\\n' > lab.yml && "
              f"printf '%s' '{json.dumps(forged)}' > state.json", attacker_dir)
    for verb in ("probe", "down", "status", "shell"):
        args = [verb, str(attacker_dir / "lab.yml")] + (["x"] if verb == "shell" else [])
        r = netlab(*args)
        assert r.returncode == 2, (verb, r.stdout, r.stderr)
        assert "is not a lab name" in r.stderr and "Traceback" not in r.stderr
    assert not (attacker_dir / "pwned").exists(), "a forged probe ran as root"
    assert (attacker_dir / "state.json").exists(), "down must not delete files outside the state directory"


def test_a_lab_name_with_shell_text_never_reaches_a_shell(attacker_dir: Path) -> None:
    as_nobody(f"printf '%s\\n' \"name: \\\"x';id>{attacker_dir}/pwned;'\\\"\" 'nodes: {{a: {{}}}}' > lab.yml",
              attacker_dir)
    r = netlab("shell", str(attacker_dir / "lab.yml"), "a")
    assert r.returncode == 2 and "is not a lab name" in r.stderr
    assert not (attacker_dir / "pwned").exists()


def test_no_shell_command_line_is_built_from_data() -> None:
    """A grep over the code: no shell=True, and the one rc file netlab writes is a constant."""
    offenders = []
    for path in (REPO / "netlab").rglob("*.py"):
        text = path.read_text()
        if re.search(r"shell\s*=\s*True", text):
            offenders.append(f"{path}: shell=True")
        for m in re.finditer(r"rc\.write\((.*?)\)\n", text, re.S):
            if "{" in m.group(1):
                offenders.append(f"{path}: an rc file with formatted text: {m.group(1)[:60]}")
    assert offenders == []


def test_a_yaml_list_instead_of_a_lab_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "list.yml"
    path.write_text("- a\n- b\n")
    for verb in ("down", "status", "probe"):
        r = netlab(verb, str(path))
        assert r.returncode == 2 and "Traceback" not in r.stderr, (verb, r.stderr)


def test_a_lab_name_with_a_trailing_newline_is_refused() -> None:
    r = netlab("down", "routed\n")
    assert r.returncode == 2 and "is not a lab name" in r.stderr


# --------------------------------------------------------------------------------------- state files

def up_routed(tmp_path: Path, name: str) -> Path:
    """A copy of routed named ``name``, up through the CLI: a state file as ``up`` writes it, to tamper with."""
    path = catalog_copy(tmp_path, "routed", name)
    r = netlab("up", str(path))
    assert r.returncode == 0, r.stderr
    return path


def edit_state(lab: str, change: dict[str, object]) -> None:
    path = RUN / "labs" / f"{lab}.json"
    data = json.loads(path.read_text())
    data.update(change)
    path.write_text(json.dumps(data))


def test_hand_edited_namespace_paths_are_never_acted_on(tmp_path: Path) -> None:
    up_routed(tmp_path, "forged")
    victim = tmp_path / "victim"
    victim.write_text("root's file")
    state = json.loads((RUN / "labs" / "forged.json").read_text())
    edit_state("forged", {"namespaces": [*state["namespaces"],
                                         {"name": f"../../..{victim}", "owner": "client", "kind": "node"}]})
    r = netlab("down", "forged")
    assert r.returncode == 1 and "is damaged" in r.stderr and "netlab clean" in r.stderr, r.stderr
    assert victim.read_text() == "root's file"
    assert len(netns_of("forged")) == 3, "a damaged state is not acted on"
    r = netlab("clean", "--json")
    assert r.returncode == 0, r.stderr
    assert str(RUN / "labs" / "forged.json") in json.loads(r.stdout)["files"]
    assert netns_of("forged") == [] and victim.exists()


def test_a_state_naming_another_lab_is_refused(tmp_path: Path) -> None:
    up_routed(tmp_path, "named")
    edit_state("named", {"lab": "../../../x"})
    r = netlab("down", "named")
    assert r.returncode == 1 and "is damaged" in r.stderr
    assert netlab("clean").returncode == 0 and netns_of("named") == []


def test_a_foreign_pid_in_the_state_is_not_killed(tmp_path: Path) -> None:
    up_routed(tmp_path, "pids")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        from netlab.stages.record import process_start_time

        edit_state("pids", {"processes": [{"pid": sleeper.pid, "start_time": process_start_time(sleeper.pid),
                                           "node": "client", "what": "forged"}]})
        assert netlab("down", "pids").returncode == 0
        assert sleeper.poll() is None, "down killed a process outside the lab's namespaces"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_torn_state_is_reported_and_clean_repairs_it(tmp_path: Path) -> None:
    path = up_routed(tmp_path, "torn")
    (RUN / "labs" / "torn.json").write_text('{"lab": "torn", "run"')
    r = netlab("up", str(path))
    assert r.returncode == 1 and "is damaged" in r.stderr and "netlab clean" in r.stderr
    assert netlab("clean").returncode == 0
    assert netns_of("torn") == [] and not (RUN / "labs" / "torn.json").exists()
    assert netlab("up", str(path)).returncode == 0
    assert netlab("down", "torn").returncode == 0


def test_clean_removes_temporary_files_of_dead_writers() -> None:
    (RUN / "labs").mkdir(parents=True, exist_ok=True)
    stale = RUN / "labs" / ".gone.json.99999999.tmp"
    stale.write_text("{}")
    r = netlab("clean")
    assert r.returncode == 0 and not stale.exists() and "stale state file" in r.stdout


def test_up_notices_namespaces_removed_behind_its_back(tmp_path: Path) -> None:
    path = up_routed(tmp_path, "behind")
    subprocess.run(["ip", "netns", "del", "nl-behind.server"], check=True)
    r = netlab("up", str(path))
    assert r.returncode == 1 and "nl-behind.server" in r.stderr and "--recreate" in r.stderr
    assert netlab("up", "--recreate", str(path)).returncode == 0
    assert len(netns_of("behind")) == 3
    assert netlab("down", "behind").returncode == 0
    # the server's services kept the removed namespace alive, unnamed: recreate stopped them all the same
    left = subprocess.run(["pgrep", "-f", str(path)], capture_output=True, text=True, check=False).stdout.split()
    assert left == [], f"processes of the lab left running: {left}"


# ------------------------------------------------------------------------------------ the run directory

def test_the_lock_is_root_only_and_an_old_open_one_is_tightened(tmp_path: Path) -> None:
    (RUN / "lock").touch()
    (RUN / "lock").chmod(0o644)
    assert netlab("clean").returncode == 0
    assert stat.S_IMODE((RUN / "lock").stat().st_mode) == 0o600
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "sh", "-c",
                            f"exec 3<{RUN / 'lock'}"], capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr


@pytest.mark.parametrize("setup", ["world-writable", "owned-by-nobody", "symlink"])
def test_a_run_directory_others_could_write_is_refused(tmp_path: Path, setup: str) -> None:
    run = Path(tempfile.mkdtemp(prefix="netlab-run-", dir="/tmp"))
    try:
        if setup == "world-writable":
            run.chmod(0o1777)
        elif setup == "owned-by-nobody":
            os.chown(run, NOBODY, NOBODY)
        else:
            (run / "real").mkdir()
            os.symlink(run / "real", run / "link")
            run = run / "link"
        r = subprocess.run([sys.executable, "-m", "netlab", "up", "routed"], capture_output=True, text=True,
                           cwd=REPO, env={**os.environ, "NETLAB_RUN_DIR": str(run)}, timeout=60, check=False)
        assert r.returncode == 1 and "refusing the run directory" in r.stderr, r.stderr
        assert netns_of("routed") == []
    finally:
        shutil.rmtree(run if setup != "symlink" else run.parent, ignore_errors=True)


def test_a_planted_symlink_in_the_logs_is_not_written_through(tmp_path: Path) -> None:
    """Services write their logs as root: a symlink there must be refused, not followed."""
    target = tmp_path / "etc-shadow-stand-in"
    target.write_text("precious")
    logs = RUN / "logs" / "firewalled"
    logs.mkdir(parents=True, exist_ok=True)
    link = logs / "server.http.log"
    link.unlink(missing_ok=True)
    os.symlink(target, link)
    try:
        r = netlab("up", "firewalled")
        assert r.returncode != 0 and "refusing" in r.stderr, r.stderr
        assert target.read_text() == "precious"
        assert netns_of("firewalled") == []
    finally:
        link.unlink(missing_ok=True)
        netlab("down", "firewalled")


def test_a_fifo_in_run_netns_does_not_hang_clean() -> None:
    fifo = Path("/run/netns/netlab-test-fifo")
    os.mkfifo(fifo)
    try:
        start = time.monotonic()
        r = netlab("clean", timeout=20)
        assert r.returncode == 0 and time.monotonic() - start < 10
        assert fifo.exists(), "clean removes only what carries netlab's tag"
    finally:
        fifo.unlink()


def test_status_as_non_root_says_it_needs_root() -> None:
    # The checkout and its venv may sit in /root (mode 0700), as on a fresh machine where root cloned into its
    # home: nobody could not even import netlab there. Bind both, in a private mount namespace, under a
    # directory nobody can reach -- the files themselves are world-readable, as a checkout's are.
    top = Path(tempfile.mkdtemp(prefix="netlab-nobody-"))
    try:
        top.chmod(0o755)
        (top / "repo").mkdir()
        (top / "site").mkdir()
        script = ('mount --bind "$1" "$3/repo" && mount --bind "$2" "$3/site" && exec setpriv '
                  f'--reuid={NOBODY} --regid={NOBODY} --clear-groups /usr/bin/python3 -m netlab status')
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "_", str(REPO),
                            _site_packages(), str(top)], capture_output=True, text=True, cwd="/",
                           env={"PYTHONPATH": f"{top}/repo:{top}/site", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                           check=False)
    finally:
        shutil.rmtree(top)
    assert r.returncode == 5 and "needs root" in r.stderr and "Traceback" not in r.stderr, r.stderr


def _site_packages() -> str:
    import pydantic

    return str(Path(pydantic.__file__).resolve().parents[1])


def test_two_labs_whose_names_once_collided_come_up_together(tmp_path: Path) -> None:
    """Lab x with node y-z and lab x-y with node z both derived nl-x-y-z; with the dot they never can."""
    a = tmp_path / "a.yml"
    a.write_text("name: x\nnodes:\n  y-z: {}\n")
    b = tmp_path / "b.yml"
    b.write_text("name: x-y\nnodes:\n  z: {}\n")
    try:
        assert netlab("up", str(a)).returncode == 0
        r = netlab("up", str(b))
        assert r.returncode == 0, r.stderr
        assert netns_of("x") == ["nl-x.y-z"] and netns_of("x-y") == ["nl-x-y.z"]
    finally:
        netlab("down", "x", "x-y")


def test_escape_sequences_in_a_file_are_shown_escaped(tmp_path: Path) -> None:
    path = tmp_path / "esc.yml"
    path.write_text('name: "bad\\e]0;owned\\a"\nnodes: {a: {}}\n')
    r = netlab("validate", str(path))
    assert r.returncode == 2 and "\x1b" not in r.stderr and "\\x1b" in r.stderr
