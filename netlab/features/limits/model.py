"""The ``limits:`` key of a node (shape and units only; :mod:`.feature` turns it into the kernel's values)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

CPU_PERIOD = 100_000
"""cpu.max's period in microseconds (the kernel's default): the quota is the share of it the cgroup may run."""
_MEMORY = re.compile(r"(?P<n>[0-9]+)\s*(?P<unit>[KMG]?)(i?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def cpu_quota(value: str | float) -> int:
    """``25%`` or ``0.25`` (CPUs) → 25000 µs per 100 ms period. ValueError with the accepted forms."""
    text = str(value).strip()
    try:
        cpus = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        cpus = -1.0
    if cpus < 0:
        raise ValueError(f"{value!r} is not a CPU share; write a percentage of one CPU (25%) or CPUs (0.25, 2)")
    quota = round(cpus * CPU_PERIOD)
    if not 1000 <= quota <= 64 * CPU_PERIOD:
        raise ValueError(f"{value!r} is outside 1%..6400% of a CPU (the kernel's smallest quota is 1 ms per 100 ms)")
    return quota


def memory_bytes(value: str | int) -> int:
    """``64M``, ``1G``, ``65536`` → bytes (binary units). ValueError below 1 MiB: nothing runs in less."""
    match = _MEMORY.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not an amount of memory; write bytes or K/M/G (64M)")
    amount = int(match["n"]) * _UNITS[match["unit"].upper()]
    if amount < 1 << 20:
        raise ValueError(f"{value!r} is less than 1M: the node's services could not even start")
    return amount


class Limits(BaseModel):
    """What a node's processes may use: CPU time, memory, number of processes (cgroup v2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu: str | float | None = None
    """CPU time: ``25%`` of one CPU, or a number of CPUs (``0.25``, ``2``) -- ``cpu.max``, as ``docker run --cpus``.
    Beyond it the cgroup's processes are throttled (stopped until the next 100 ms period)."""
    memory: str | int | None = None
    """Memory: ``64M``, ``1G`` or bytes -- ``memory.max``; beyond it the kernel reclaims, then OOM-kills in the
    cgroup."""
    pids: int | None = Field(default=None, ge=1, le=4_194_304)
    """Processes and threads -- ``pids.max``; a fork beyond it fails with EAGAIN."""

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            cpu_quota(value)
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            memory_bytes(value)
        return value
