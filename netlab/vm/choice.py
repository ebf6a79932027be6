"""Which backend boots on this machine: found out by booting, remembered until the host reboots.

Why not decide from what is installed: our machines differ. User-mode-linux boots in 3 s on some and
panics on others (Intel AMX); ``/dev/kvm`` opens everywhere but runs a stock guest only on some. So a
backend counts as working once a guest of it has really reached netlab's guest script, and as broken
once one has panicked or been killed by the watchdog. Each result is recorded with what was booted (the
kernel binary or image and QEMU, by size and mtime) and the host's boot id: an upgrade or a reboot asks
again. The record is plain JSON in the run directory; it only ever decides which backend is tried
first, so a wrong or forged record costs a fallback, never a wrong result.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from netlab import paths
from netlab.core.frozen import frozen
from netlab.paths import boot_id, run_dir
from netlab.vm.backends import UML_BINARY, VmBackend, find_vng, find_vng_kernel, qemu_binary

__all__ = ["BootCache", "BootRecord", "identity"]


@frozen
class BootRecord:
    """What happened when a backend was booted here."""

    backend: str
    boots: bool
    seconds: float
    """Start to guest script (boots) or to the failure."""
    reason: str
    tail: tuple[str, ...]
    """The guest's last lines when it failed (the panic text, the line it hung after)."""
    identity: str
    checked: float


def _stamp(path: Path | str | None) -> str:
    if path is None:
        return "-"
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def identity(kind: VmBackend) -> str:
    """What a boot of ``kind`` runs, as a string that changes when any of it is upgraded."""
    if kind is VmBackend.UML:
        return _stamp(UML_BINARY)
    return "|".join((_stamp(find_vng_kernel()), _stamp(qemu_binary()), _stamp(find_vng())))


class BootCache:
    """``<run dir>/vm-backends.json``: the boot records of this boot of the host.

    Not written without root (the run directory is root's); then every command finds out again.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else run_dir() / "vm-backends.json"
        self.enabled = path is not None or os.geteuid() == 0

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.enabled:
            return {}
        try:
            paths.check_dir(self.path.parent)
            text = paths.read_file(self.path)
            data = json.loads(text) if text else None
        except (OSError, ValueError, paths.UnsafeRunDir):
            return {}
        if not isinstance(data, dict) or data.get("boot_id") != boot_id() or not isinstance(data.get("records"), dict):
            return {}
        return {str(k): v for k, v in data["records"].items() if isinstance(v, dict)}

    def get(self, kind: VmBackend) -> BootRecord | None:
        """The record of ``kind`` if it is about what would be booted now, else None."""
        raw = self._load().get(kind.value)
        if raw is None:
            return None
        try:
            record = BootRecord(backend=str(raw["backend"]), boots=bool(raw["boots"]), seconds=float(raw["seconds"]),
                                reason=str(raw["reason"]), tail=tuple(str(x) for x in raw["tail"]),
                                identity=str(raw["identity"]), checked=float(raw["checked"]))
        except (KeyError, TypeError, ValueError):
            return None
        return record if record.identity == identity(kind) else None

    def put(self, kind: VmBackend, boots: bool, seconds: float, reason: str, tail: tuple[str, ...] = ()) -> BootRecord:
        record = BootRecord(kind.value, boots, round(seconds, 2), reason, tail, identity(kind), time.time())
        if not self.enabled:
            return record
        records = self._load()
        records[kind.value] = asdict(record)
        try:
            paths.make_dir(self.path.parent)
            paths.write_file(self.path, json.dumps({"boot_id": boot_id(), "records": records}, indent=1))
        except (OSError, paths.UnsafeRunDir):
            pass  # a record that cannot be written only costs a boot next time
        return record
