"""Stage 6, record: what netlab made, on disk, so ``down`` and ``clean`` need nothing else.

One JSON file per lab under ``<run dir>/labs/``, replaced atomically (write, rename) and only while
holding ``<run dir>/lock``. The state is written *before* apply creates anything, with ``status:
applying`` and the owner's pid and start time: it is a journal. If ``up`` is killed (even with -9), the
journal names every namespace it may have made, and ``clean`` can tell a crashed ``up`` (owner gone) from
one still running (owner alive). ``up`` rewrites it with ``status: up`` when it is done.

A state file is read as untrusted data (netlab.paths keeps others from writing the run directory, and
this module does not rely on that alone): the lab name must be the file's own, and every namespace name
is recomputed from the lab and owner names and must equal the recorded one. A file that fails is
reported as damaged (``TornState``: its path, and that ``netlab clean`` repairs it), never acted on.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

from netlab import paths
from netlab.errors import NetlabError
from netlab.model.resolved import ResolvedLab
from netlab.naming import checked_lab_name, is_node_name, netns_name

STATE_VERSION = 1
Status = Literal["applying", "up", "tearing-down"]
LOCK_TIMEOUT = 120.0
"""Seconds a command waits for another one's ``up``/``down``/``clean`` (a 1000-node ``up`` takes ≈ 3 s)."""
_STATE_FILE = re.compile(r"([a-z0-9][a-z0-9-]{0,23})\.json")
_TEMP_FILE = re.compile(r"\.([a-z0-9][a-z0-9-]{0,23})\.json\.(\d+)(?:\.[0-9a-f]+)?\.tmp")


class TornState(NetlabError):
    """A state file that cannot be read back: torn by a crash, or not written by netlab."""

    exit_code = 1

    def __init__(self, path: Path, why: str) -> None:
        self.path = path
        super().__init__(f"the state file {path} is damaged ({why}); nothing was done\n"
                         "    hint: `netlab clean` repairs it (it removes the file and every namespace of that "
                         "lab that no live lab owns)")


class LockBusy(NetlabError):
    exit_code = 1


@dataclass(frozen=True)
class NamespaceRecord:
    name: str
    owner: str
    kind: Literal["node", "lan"]


@dataclass(frozen=True)
class ProcessRecord:
    """A process netlab started in a node (a service, a long-running command)."""

    pid: int
    start_time: int
    """From /proc/PID/stat: tells our process from a later one that reused the pid."""
    node: str
    what: str


@dataclass(frozen=True)
class LabState:
    lab: str
    run: str
    """Random id of this ``up``: the namespace tags carry it, so a namespace from an older run of the
    same lab is recognised as stale."""
    status: Status
    source: str
    topology_sha256: str
    owner_pid: int
    owner_start: int
    created: float
    namespaces: tuple[NamespaceRecord, ...]
    processes: tuple[ProcessRecord, ...] = ()
    resolved: dict[str, object] = field(default_factory=dict)
    """The resolved lab (as plain data) for ``status`` when the topology file has changed or gone."""

    def to_json(self) -> str:
        # Field by field rather than asdict(self): asdict deep-copies `resolved` (already plain data),
        # which at 1000 nodes cost ≈ 0.3 s per write, and `up` writes the state twice.
        data: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["namespaces"] = [asdict(n) for n in self.namespaces]
        data["processes"] = [asdict(p) for p in self.processes]
        data["version"] = STATE_VERSION
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> LabState:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        data.pop("version", None)
        data["namespaces"] = tuple(NamespaceRecord(**n) for n in data.get("namespaces", []))
        data["processes"] = tuple(ProcessRecord(**p) for p in data.get("processes", []))
        return LabState(**data)

    def problem(self, lab: str) -> str | None:
        """Why this state cannot be lab ``lab``'s, or None: every name checked, every path recomputed."""
        if self.lab != lab:
            return f"it names lab {self.lab!r}"
        if self.status not in ("applying", "up", "tearing-down"):
            return f"unknown status {self.status!r}"
        for field_name in ("owner_pid", "owner_start"):
            if not isinstance(getattr(self, field_name), int):
                return f"{field_name} is not a number"
        for ns in self.namespaces:
            if ns.kind not in ("node", "lan") or not is_node_name(ns.owner):
                return f"namespace record {ns.name!r} has a bad owner or kind"
            if ns.name != netns_name(lab, ns.owner):
                return f"namespace {ns.name!r} is not the one netlab derives for {ns.owner!r}"
        for proc in self.processes:
            if not (isinstance(proc.pid, int) and isinstance(proc.start_time, int) and proc.pid > 1):
                return f"process record {proc.pid!r} is not a process"
        if not isinstance(self.resolved, dict):
            return "the resolved lab is not an object"
        return None

    def owner_alive(self) -> bool:
        return process_start_time(self.owner_pid) == self.owner_start

    @property
    def live(self) -> bool:
        """Up, or being brought up by a process that still runs."""
        return self.status == "up" or (self.status == "applying" and self.owner_alive())


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    rest = raw[raw.rindex(b")") + 2:].split()
    return int(rest[19])


def new_run_id() -> str:
    return secrets.token_hex(4)


def new_state(lab: ResolvedLab, topology_sha256: str, run: str) -> LabState:
    pid = os.getpid()
    namespaces = tuple(NamespaceRecord(n.netns, n.name, "node") for n in lab.nodes) + tuple(
        NamespaceRecord(lan.netns, lan.name, "lan") for lan in lab.lans)
    return LabState(lab=lab.name, run=run, status="applying", source=lab.source,
                    topology_sha256=topology_sha256, owner_pid=pid,
                    owner_start=process_start_time(pid) or 0, created=time.time(),
                    namespaces=namespaces, resolved=asdict(lab))


class StateStore:
    """The state directory: one file per lab, one lock for all changes (see netlab.paths for the checks)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else paths.run_dir()
        self.labs_dir = self.root / "labs"
        self.logs_dir = self.root / "logs"

    def _ensure(self) -> None:
        paths.make_dir(self.root)
        paths.make_dir(self.labs_dir)

    def log_dir(self, lab: str) -> Path:
        """``<run dir>/logs/<lab>``, created and checked: services and captures write there as root."""
        paths.make_dir(self.logs_dir)
        return paths.make_dir(self.logs_dir / checked_lab_name(lab))

    @contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """Exclusive lock over every lab's state: one up/down/clean at a time on this machine.

        The lock file is 0600 (anyone who can open it can hold it forever); the holder writes its pid into
        it, so a command that waits too long can say who holds it.
        """
        self._ensure()
        path = self.root / "lock"
        fd = paths.open_file(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                        raise LockBusy(f"another netlab command holds {path} (pid {holder or '?'}) and did not "
                                       f"finish within {timeout:.0f} s\n    hint: wait for it, or look at "
                                       f"`ps -p {holder or '<pid>'} -o pid,etime,args`") from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)

    def path(self, lab: str) -> Path:
        """The state file of ``lab``: computed from the checked name, never taken from a file."""
        return self.labs_dir / f"{checked_lab_name(lab)}.json"

    def read(self, lab: str) -> LabState | None:
        """The state of ``lab``, None if there is none; TornState if the file cannot be trusted."""
        path = self.path(lab)
        if not self.labs_dir.is_dir():
            return None
        paths.check_dir(self.labs_dir)
        text = paths.read_file(path)
        if text is None:
            return None
        try:
            state = LabState.from_json(text)
        except (ValueError, TypeError, KeyError) as exc:
            raise TornState(path, f"{type(exc).__name__}: {exc}") from None
        problem = state.problem(lab)
        if problem:
            raise TornState(path, problem)
        return state

    def write(self, state: LabState) -> None:
        self._ensure()
        paths.write_file(self.path(state.lab), state.to_json())

    def remove(self, lab: str) -> None:
        self.path(lab).unlink(missing_ok=True)

    def names(self) -> list[str]:
        """Labs that have a state file (by file name; nothing else in the directory counts)."""
        if not self.labs_dir.is_dir():
            return []
        return sorted(m[1] for e in os.scandir(self.labs_dir) if (m := _STATE_FILE.fullmatch(e.name)))

    def all(self) -> list[LabState]:
        """Every readable state; a damaged one is skipped here (``torn()`` lists those)."""
        out = []
        for lab in self.names():
            try:
                state = self.read(lab)
            except TornState:
                continue
            if state is not None:
                out.append(state)
        return out

    def torn(self) -> list[str]:
        """Labs whose state file is damaged."""
        bad = []
        for lab in self.names():
            try:
                self.read(lab)
            except TornState:
                bad.append(lab)
        return bad

    def stale_temp_files(self) -> list[Path]:
        """Temporary state files whose writer is dead (a kill -9 between write and rename)."""
        if not self.labs_dir.is_dir():
            return []
        return [Path(e.path) for e in os.scandir(self.labs_dir)
                if (m := _TEMP_FILE.fullmatch(e.name)) and process_start_time(int(m[2])) is None]
