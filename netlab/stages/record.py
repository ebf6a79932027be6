"""Stage 6, record: what netlab made, on disk, so ``down`` and ``clean`` need nothing else.

One JSON file per lab under ``/run/netlab/labs/``, replaced atomically (write, rename) and
only while holding ``/run/netlab/lock``. The state is written *before* apply creates anything, with
``status: applying`` and the owner's pid and start time: it is a journal. If ``up`` is killed
(even with -9), the journal names every namespace it may have made, and ``clean`` can tell a crashed
``up`` (owner gone) from one still running (owner alive). ``up`` rewrites it with ``status: up``
when it is done.

Under ``/run`` on purpose: a reboot empties ``/run`` and with it every namespace mount, so state and
kernel objects go away together.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

from netlab.model.resolved import ResolvedLab

DEFAULT_RUN_DIR = Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))
STATE_VERSION = 1
Status = Literal["applying", "up", "tearing-down"]


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
        data.pop("version", None)
        data["namespaces"] = tuple(NamespaceRecord(**n) for n in data.get("namespaces", []))
        data["processes"] = tuple(ProcessRecord(**p) for p in data.get("processes", []))
        return LabState(**data)

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
    """The state directory: one file per lab, one lock for all changes."""

    def __init__(self, root: Path = DEFAULT_RUN_DIR) -> None:
        self.root = root
        self.labs_dir = root / "labs"
        self.logs_dir = root / "logs"

    def _ensure(self) -> None:
        self.labs_dir.mkdir(parents=True, exist_ok=True, mode=0o755)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock over every lab's state: one up/down/clean at a time on this machine."""
        self._ensure()
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def path(self, lab: str) -> Path:
        return self.labs_dir / f"{lab}.json"

    def read(self, lab: str) -> LabState | None:
        try:
            return LabState.from_json(self.path(lab).read_text())
        except FileNotFoundError:
            return None

    def write(self, state: LabState) -> None:
        self._ensure()
        target = self.path(state.lab)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        # No fsync: the rename is atomic for every reader and survives the writer's kill -9 (the data
        # is in the page cache); what fsync adds is surviving a power loss, after which /run and every
        # namespace are gone anyway. On a disk-backed /run it cost ≈ 0.1 s per write at 1000 nodes.
        with open(tmp, "w") as f:
            f.write(state.to_json())
        os.replace(tmp, target)

    def remove(self, lab: str) -> None:
        self.path(lab).unlink(missing_ok=True)

    def all(self) -> list[LabState]:
        if not self.labs_dir.is_dir():
            return []
        out = []
        for path in sorted(self.labs_dir.glob("*.json")):
            try:
                out.append(LabState.from_json(path.read_text()))
            except (ValueError, TypeError, KeyError):
                continue  # a torn or foreign file: never acted on
        return out
