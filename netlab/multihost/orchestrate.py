"""Drive a lab spread over hosts through ansible-runner: ``playbooks/multihost.yml`` on the inventory's hosts.

Why Ansible and not a home-made SSH fan-out: the hosts are reached the way their owners already reach them
(inventory variables, SSH options, become), in parallel, and each host's answer comes back as data
(ansible-runner's events: rc, stdout, unreachable). Each host answers in netlab's own JSON.

The controller keeps its record under the run directory, ``<run dir>/multihost/<lab>/``: the lab file and the
inventory as they were when the lab went up (``lab.yml``, ``hosts.yml``). ``down``, ``probe`` and ``status``
read only those -- the path recomputed from the checked lab name, each file checked like the rest of the run
directory -- so they work after the controller crashed, and after the user's files changed.

Each Ansible run works in ``<run dir>/ansible/<pid>/`` (ansible-runner's private data, the SSH control sockets),
removed when it ends. A controller killed with -9 cannot remove it: the next run, and ``netlab clean``, remove
every one whose process is gone (``sweep``). It was a temporary directory under /tmp once, which a killed
controller left there for good -- nothing recorded it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from netlab import paths
from netlab.core.frozen import frozen
from netlab.errors import MissingTool
from netlab.naming import checked_lab_name, is_lab_name

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "multihost.yml"
WATCH = PLAYBOOK.with_name("multihost-watch.yml")
TIMEOUT = 1800


@frozen
class HostAnswer:
    host: str
    state: str
    """``ok`` (the command ran: see ``rc``), ``unreachable``, ``failed`` (a step before it failed), ``missing``
    (Ansible reported nothing for this host)."""
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == "ok" and self.rc == 0

    def data(self) -> Any:
        """The command's JSON answer, or None."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def why(self) -> str:
        if self.state == "ok":
            text = (self.stderr or self.stdout or self.message).strip().splitlines()
            return f"exit {self.rc}" + (f": {text[-1]}" if text else "")
        return f"{self.state}: {self.message}".rstrip(": ")


def record_dir(lab: str) -> Path:
    return paths.run_dir() / "multihost" / checked_lab_name(lab)


def recorded(lab: str) -> tuple[Path, Path] | None:
    """(lab file, inventory) of a lab this controller spread over hosts, or None."""
    where = record_dir(lab)
    if paths.read_file(where / "lab.yml") is None or paths.read_file(where / "hosts.yml") is None:
        return None
    return where / "lab.yml", where / "hosts.yml"


def record(lab: str, lab_text: str, inventory_text: str) -> tuple[Path, Path]:
    where = record_dir(lab)
    paths.make_dir(where.parent, 0o700)
    paths.make_dir(where, 0o700)
    paths.write_file(where / "lab.yml", lab_text, 0o600)
    paths.write_file(where / "hosts.yml", inventory_text, 0o600)
    mark(lab, "applying")
    return where / "lab.yml", where / "hosts.yml"


def mark(lab: str, status: str) -> None:
    """``applying`` (with this process, so ``clean`` can tell a crashed controller from a running one) or ``up``."""
    paths.write_file(record_dir(lab) / "status", f"{status} {_owner(os.getpid())}", 0o600)


def status(lab: str) -> str | None:
    """``applying`` or ``up`` (the first word of the record's status), or None."""
    words = (paths.read_file(record_dir(lab) / "status") or "").split()
    return words[0] if words else None


def read(path: Path) -> str:
    return paths.read_file(path) or ""


def stale() -> list[str]:
    """Labs whose controller died while it brought them up (``kill -9``, a crash): ``clean`` takes them down."""
    top = paths.run_dir() / "multihost"
    found = []
    for entry in sorted(os.scandir(top), key=lambda e: e.name) if top.is_dir() else []:
        if not is_lab_name(entry.name):
            continue
        text = paths.read_file(top / entry.name / "status") or ""
        words = text.split()
        if len(words) == 3 and words[0] == "applying" and words[1].isdigit() and words[2].isdigit():
            from netlab.stages.record import process_start_time

            if process_start_time(int(words[1])) != int(words[2]):
                found.append(entry.name)
    return found


def _owner(pid: int) -> str:
    """``<pid> <start time>``: which process, recycled pids told apart (the status record and work directories)."""
    from netlab.stages.record import process_start_time

    return f"{pid} {process_start_time(pid) or 0}\n"


def sweep() -> list[int]:
    """Remove the work directories (``<run dir>/ansible/<pid>/``) of Ansible runs whose controller is gone --
    killed with -9, or crashed; the pids whose directory was removed. A directory whose ``owner`` file
    (pid and process start time) is not written yet is left while its pid lives: its run is starting."""
    import shutil

    top = paths.run_dir() / "ansible"
    removed = []
    for entry in sorted(os.scandir(top), key=lambda e: e.name) if top.is_dir() else []:
        if not re.fullmatch(r"[1-9][0-9]{0,9}", entry.name):
            continue
        pid = int(entry.name)
        where = top / entry.name  # recomputed from the checked name, never taken from what is inside
        owner = paths.read_file(where / "owner")
        if os.path.exists(f"/proc/{pid}") and owner in (None, _owner(pid)):
            continue
        shutil.rmtree(where, ignore_errors=True)
        removed.append(pid)
    return removed


def _work_dir() -> Path:
    """This run's own directory, ``<run dir>/ansible/<pid>/``, empty, with its ``owner`` file."""
    import shutil

    sweep()
    top = paths.make_dir(paths.run_dir() / "ansible", 0o700)
    where = top / str(os.getpid())
    shutil.rmtree(where, ignore_errors=True)  # this pid's, left by an earlier process of the same number
    paths.make_dir(where, 0o700)
    paths.write_file(where / "owner", _owner(os.getpid()), 0o600)
    return where


def _ssh_sharing(work: Path) -> dict[str, str]:
    """SSH connection sharing within this run only: a master left from an earlier run to a host that has since
    gone away (a VM destroyed, a test's namespace deleted) would make every new connection hang. A control
    socket is ``<dir>/`` + Ansible's 10-character hash, and ssh first binds it with 17 characters more: a path
    that would not fit a unix socket (107 bytes) turns sharing off rather than fail every connection."""
    control = work / "cp"
    if len(os.fsencode(control)) + 1 + 10 + 17 > 107:
        return {"ANSIBLE_SSH_ARGS": "-o ControlMaster=no"}
    return {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
            "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=15s"}


def forget(lab: str) -> None:
    import shutil

    shutil.rmtree(record_dir(lab), ignore_errors=True)


def watch(lab: str, lab_file: Path, inventory_file: Path, probe: str, host: str, during: str, during_host: str,
          say: Callable[[str], None] = lambda _line: None) -> dict[str, HostAnswer]:
    """A capture or counters ``probe`` on ``host`` while ``during`` runs on ``during_host``
    (playbooks/multihost-watch.yml): {host: its answer, during_host: the watched probe's}."""
    from netlab.multihost.elsewhere import stem

    extravars = {"netlab_watch_host": host, "netlab_during_host": during_host, "netlab_probe": probe,
                 "netlab_during": during, "netlab_stem": stem(during)}
    return run("watch", lab, lab_file, inventory_file, [host, during_host], say, extravars, playbook=WATCH)


def failure(result: Mapping[str, Any]) -> str:
    """What a failed task said. Ansible's "MODULE FAILURE" (the module printed no JSON: it crashed, or was
    killed) says only "see stdout/stderr", which the event holds and nothing else shows: its last lines, and rc."""
    message = str(result.get("msg", "")).strip()
    if "module_stderr" not in result and "module_stdout" not in result:
        return message
    said = [line for key in ("module_stderr", "module_stdout")
            for line in str(result.get(key) or "").strip().splitlines()[-3:]]
    return "\n".join([message.splitlines()[0] if message else "module failure",
                      *(f"  {line}" for line in said), f"  (rc {result.get('rc')})"])


def run(action: str, lab: str, lab_file: Path, inventory_file: Path, hosts: list[str],
        say: Callable[[str], None] = lambda _line: None, extravars: Mapping[str, Any] | None = None,
        timeout: int = TIMEOUT, playbook: Path = PLAYBOOK) -> dict[str, HostAnswer]:
    """``action`` (up, down, probe, status) on ``hosts`` in parallel; each host's answer."""
    try:
        import ansible_runner
    except ImportError as exc:
        raise MissingTool("ansible-runner is not installed (a lab over several hosts is driven by Ansible)\n"
                          "    hint: pip install 'netlab[vagrant]' (ansible-runner and ansible-core, pinned)") from exc
    answers: dict[str, HostAnswer] = {}
    started = time.monotonic()

    def handler(event: Mapping[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = str(data.get("host", ""))
        result = data.get("res") or {}
        task = str(data.get("task", ""))
        if kind == "runner_on_ok" and task.startswith("netlab ") and "rc" in result:
            answers[host] = HostAnswer(host, "ok", int(result["rc"]), str(result.get("stdout", "")),
                                       str(result.get("stderr", "")), str(result.get("msg", "")))
            say(f"{time.monotonic() - started:5.1f} s  {host}: {action} exit {result['rc']}")
        elif kind == "runner_on_unreachable":
            answers[host] = HostAnswer(host, "unreachable", message=str(result.get("msg", "")).strip())
            say(f"{time.monotonic() - started:5.1f} s  {host}: unreachable")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            answers[host] = HostAnswer(host, "failed", message=f"{task}: {failure(result)}".strip())
            say(f"{time.monotonic() - started:5.1f} s  {host}: {task} failed")
        return False  # nothing of the events is kept on disk: the answers are here

    import shutil

    work = _work_dir()
    try:
        ansible_runner.run(
            private_data_dir=str(work), playbook=str(playbook), inventory=str(inventory_file),
            limit=",".join(hosts),
            extravars={"netlab_action": action, "netlab_lab": lab, "netlab_lab_file": str(lab_file),
                       "netlab_inventory_file": str(inventory_file), **dict(extravars or {})},
            quiet=True, timeout=timeout, event_handler=handler,
            envvars={"ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
                     "ANSIBLE_NOCOLOR": "True", "ANSIBLE_FORKS": str(max(5, len(hosts))), **_ssh_sharing(work)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for host in hosts:
        answers.setdefault(host, HostAnswer(host, "missing", message="Ansible reported nothing for it"))
    return {h: answers[h] for h in hosts}
