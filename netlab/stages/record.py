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

The state is typed end to end: it is written with :func:`netlab.core.codec.to_data` and read back with
``from_data`` into the same dataclasses, the resolved lab included, so a field renamed in the code is a
:class:`~netlab.core.codec.CodecError` here (the golden resolved labs catch it before a release) rather
than a ``KeyError`` in whichever command reads that key first. Because the types are the format, a file
written with another ``STATE_VERSION`` is refused before it is decoded (``OtherStateVersion``): it is not
damaged, only not this netlab's to read, and the message says which version wrote it and what to do.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from netlab import __version__, paths
from netlab.core.codec import CodecError, fingerprint, from_data, to_data
from netlab.core.frozen import frozen
from netlab.errors import NetlabError, printable
from netlab.naming import HOST_NAME, checked_lab_name, is_node_name, netns_name

if TYPE_CHECKING:
    from netlab.model.resolved import ResolvedLab

STATE_VERSION = 4
"""The envelope's version. The shape of what is inside (the resolved lab, with every feature's part) is checked
separately by fingerprints (:func:`state_shape` of the whole, :func:`head_shape` of the
head), so adding a feature never needs a bump here. 4: the head's fingerprint, which ``down`` reads alone. 3: the
shape fingerprint. 2: the resolved lab typed (through the codec), the writer's version recorded; 1: ``asdict``."""
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
        super().__init__(f"the state file {path} is damaged ({printable(why)}); nothing was done\n"
                         "    hint: `netlab clean` repairs it (it removes the file and every namespace of that "
                         "lab that no live lab owns)")


@functools.cache
def head_shape() -> str:
    """The fingerprint of :class:`LabHead`'s shape, written into every state beside the whole state's."""
    return fingerprint(LabHead)


def _bind_resolved() -> None:
    """Bind ``ResolvedLab`` in this module, where typing.get_type_hints looks for the names of :class:`LabState`'s
    fields: imported where a whole state is decoded or fingerprinted, never by ``down`` (which reads the head)."""
    global ResolvedLab
    from netlab.model.resolved import ResolvedLab


class OtherStateVersion(TornState):
    """A state file in another format than this netlab's: written by an older or newer netlab.

    A TornState for every caller (nothing reads it, ``clean`` may remove it), with its own message: the
    file is probably fine, and the lab may well be up, so the first remedy offered is the netlab that
    brought it up.
    """

    def __init__(self, path: Path, version: int | str, written_by: str | None, ours: str | None = None) -> None:
        self.path = path
        self.version = version
        writer = f"netlab {written_by}" if written_by else "another version of netlab"
        NetlabError.__init__(
            self, f"the state file {path} was written by {writer} (state format {version}); this netlab "
            f"({__version__}) reads state format {ours or STATE_VERSION}; nothing was done\n"
            f"    hint: bring the lab down with the netlab that brought it up (`netlab down {path.stem}`), "
            "or run `netlab clean`: it removes the file and every namespace of that lab that no live lab owns")


_VERSION_TEXT = re.compile(r"[0-9A-Za-z.+_-]{1,32}")


class LockBusy(NetlabError):
    exit_code = 1


@frozen
class NamespaceRecord:
    name: str
    owner: str
    kind: Literal["node", "lan"]


@frozen
class ProcessRecord:
    """A process netlab started in a node (a service, a long-running command)."""

    pid: int
    start_time: int
    """From /proc/PID/stat: tells our process from a later one that reused the pid."""
    node: str
    what: str
    netns_inode: int = 0
    """Inode of the process's network namespace when it was started: if its namespace is removed behind
    netlab's back (``ip netns del``), the process keeps it alive unnamed, and this is how ``down`` still
    knows the process is the lab's (a local user cannot read a root process's namespace link to forge it)."""


def netns_inode(pid: int) -> int:
    """The inode of process ``pid``'s network namespace, or 0 if it is gone or not readable."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return 0


@frozen
class LabHead:
    """A lab's state without its resolved lab: what ``down`` needs, read without importing the models.

    Why apart: :class:`LabState` adds the resolved lab, whose types are every feature's;
    decoding it costs ``down`` the import of the plan and resolved models (≈ 60 ms of a 0.2 s command). The head
    has its own fingerprint in the file, so ``down`` still refuses a state of another shape.
    """

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
    host: str | None = None
    """The inventory host whose part of the lab this is (netlab.multihost: ``up --hosts INV --on HOST``); its
    namespaces are those placed here, a subset of the resolved lab's. None: the whole lab, on this machine."""
    netlab: str = __version__
    """The netlab that wrote the state: named when another version cannot read it."""

    @staticmethod
    def envelope(text: str, path: Path) -> dict[str, object]:
        """The data of state file ``path`` after its version check; TornState, OtherStateVersion."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise TornState(path, f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise TornState(path, "not a JSON object")
        version = data.pop("version", None)
        if type(version) is not int:
            raise TornState(path, "it has no state format version")
        if version != STATE_VERSION:
            writer = data.get("netlab")
            raise OtherStateVersion(path, version, writer if isinstance(writer, str)
                                    and _VERSION_TEXT.fullmatch(writer) else None)
        return data

    @staticmethod
    def check_shape(data: dict[str, object], key: str, ours: str, path: Path) -> None:
        """OtherStateVersion unless the file's fingerprint ``key`` is ``ours``."""
        shape = data.pop(key, None)
        if shape != ours:  # a netlab with another state: a feature more or less, a field renamed
            writer = data.get("netlab")
            shown = shape if isinstance(shape, str) and _VERSION_TEXT.fullmatch(shape) else "?"
            raise OtherStateVersion(path, f"{STATE_VERSION}/{shown}", writer if isinstance(writer, str)
                                    and _VERSION_TEXT.fullmatch(writer) else None, f"{STATE_VERSION}/{ours}")

    @staticmethod
    def head_from_json(text: str, path: Path) -> LabHead:
        """The head of the state in ``text``: the resolved lab is neither decoded nor checked."""
        data = LabHead.envelope(text, path)
        LabHead.check_shape(data, "head", head_shape(), path)
        data.pop("shape", None)
        data.pop("resolved", None)
        return LabHead.decode(LabHead, data, path)

    @staticmethod
    def decode(kind: type[H], data: dict[str, object], path: Path) -> H:
        try:
            return from_data(kind, data)
        except CodecError as exc:
            raise TornState(path, str(exc)) from None
        except RecursionError:
            raise TornState(path, "nested too deeply") from None

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
        if self.host is not None and not HOST_NAME.fullmatch(self.host):
            return f"its host {self.host!r} is not a host name"
        return None

    def owner_alive(self) -> bool:
        return process_start_time(self.owner_pid) == self.owner_start

    @property
    def live(self) -> bool:
        """Up, or being brought up by a process that still runs."""
        return self.status == "up" or (self.status == "applying" and self.owner_alive())


H = TypeVar("H", bound=LabHead)


@functools.cache
def state_shape() -> str:
    """The fingerprint of :class:`LabState`'s shape (netlab.core.codec.fingerprint), written into every state."""
    _bind_resolved()
    return fingerprint(LabState)


@frozen
class LabState(LabHead):
    """A lab's whole state: its head and the resolved lab (what ``status``, ``probe`` and ``up`` read)."""

    resolved: ResolvedLab = field(kw_only=True)
    """The resolved lab, for ``status`` and ``probe`` when the topology file has changed or gone."""

    def to_json(self) -> str:
        # to_data, not asdict: the same field list from_data checks on the way back (at 1000 nodes it
        # takes ≈ 25 ms, less than asdict's deep copy). The resolved lab last, encoded once per object.
        _bind_resolved()
        data = {name: to_data(getattr(self, name)) for name in _HEAD_FIELDS}
        head = json.dumps({"version": STATE_VERSION, "shape": state_shape(), "head": head_shape(), **data},
                          separators=(",", ":"))
        return f'{head[:-1]},"resolved":{_resolved_json(self.resolved)}}}'


    @staticmethod
    def from_json(text: str, path: Path) -> LabState:
        """The state in ``text`` (the file ``path``); TornState if it is not one, OtherStateVersion if it is
        in another format. The version is checked first: another format is not decoded at all."""
        _bind_resolved()
        data = LabHead.envelope(text, path)
        LabHead.check_shape(data, "shape", state_shape(), path)
        data.pop("head", None)
        return LabHead.decode(LabState, data, path)

    def problem(self, lab: str) -> str | None:
        """Why this state cannot be lab ``lab``'s, or None: every name checked, every path recomputed."""
        return super().problem(lab) or self._resolved_problem(lab)

    def _resolved_problem(self, lab: str) -> str | None:
        """The resolved lab must be this lab's and name the recorded namespaces: probes enter the namespaces
        it names, so they are recomputed exactly like the records'."""
        resolved = self.resolved
        if resolved.name != lab:
            return f"its resolved lab is {resolved.name!r}"
        owners = [(n.name, n.netns) for n in resolved.nodes] + [(lan.name, lan.netns) for lan in resolved.lans]
        for name, netns in owners:
            if not is_node_name(name) or netns != netns_name(lab, name):
                return f"resolved namespace {netns!r} is not the one netlab derives for {name!r}"
        recorded = {ns.name for ns in self.namespaces}
        if self.host is None and set(resolved.namespaces) != recorded:
            return "its resolved lab and its namespace records do not name the same namespaces"
        if self.host is not None and (not HOST_NAME.fullmatch(self.host) or not recorded <= set(resolved.namespaces)):
            return f"its part for host {self.host!r} names namespaces its resolved lab does not have"
        return None


_HEAD_FIELDS = tuple(f.name for f in dataclasses.fields(LabState) if f.init and f.name != "resolved")
_ENCODED: list[tuple[object, str]] = []
"""The last resolved lab written and its JSON."""


def _resolved_json(resolved: ResolvedLab) -> str:
    """``resolved`` as JSON, encoded once per object: ``up`` writes the state twice around the same resolved lab
    (the journal before anything exists, then ``up`` with its services' processes), and at 5000 nodes each
    encoding was ≈ 0.2 s of it. Keyed by identity: the models are frozen, the object cannot have changed."""
    if _ENCODED and _ENCODED[0][0] is resolved:
        return _ENCODED[0][1]
    text = json.dumps(to_data(resolved), separators=(",", ":"))
    _ENCODED[:] = [(resolved, text)]
    return text


def new_state(lab: ResolvedLab, topology_sha256: str, run: str) -> LabState:
    pid = os.getpid()
    namespaces = tuple(NamespaceRecord(n.netns, n.name, "node") for n in lab.nodes) + tuple(
        NamespaceRecord(lan.netns, lan.name, "lan") for lan in lab.lans)
    return LabState(lab=lab.name, run=run, status="applying", source=lab.source,
                    topology_sha256=topology_sha256, owner_pid=pid,
                    owner_start=process_start_time(pid) or 0, created=time.time(),
                    namespaces=namespaces, resolved=lab)




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
    return os.urandom(4).hex()  # secrets.token_hex's own source; importing secrets pulls hashlib in (≈ 4 ms of down)


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
        return self._read(lab, LabState.from_json)

    def read_head(self, lab: str) -> LabHead | None:
        """The head of ``lab``'s state (:class:`LabHead`): what ``down`` needs, without the models."""
        return self._read(lab, LabHead.head_from_json)

    def _read(self, lab: str, decode: Callable[[str, Path], H]) -> H | None:
        path = self.path(lab)
        if not self.labs_dir.is_dir():
            return None
        paths.check_dir(self.labs_dir)
        text = paths.read_file(path)
        if text is None:
            return None
        state = decode(text, path)
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
