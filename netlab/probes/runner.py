"""Run a lab's probes: select, prepare (imports once), dispatch by kind, time, keep pcaps.

The runner is the one long-lived process of a probe run. It imports what the selected probes need (the
modules of their kinds; scapy's layers only if a capture probe has ``match`` fields, and only those layers'
modules, :mod:`netlab.probes.layers`) *before* the first child is forked, so every child shares them; each probe's sides
are forked children (see :mod:`netlab.probes.nsfork`). A capture or counters probe asks the runner to
run the probe it watches, through :meth:`ProbeRunner.run_probe`.

The observed path: while each traffic probe runs, a recorder listens on every interface of every node
(:mod:`netlab.probes.recorder`), the first time it runs in a suite (a capture probe runs its ``during``
again: its packets take the same path, and dissecting them again costs seconds in the TCG VM). The suite
carries each probe's observed path, which ``netlab probe`` keeps as the lab's ``path.json`` for ``netlab
graph --path``.

pcaps: every traffic probe captures, in its sender's namespace, every packet of every interface while
it runs; capture probes keep what their sniffers saw. The files are written for every probe when a
pcap directory is given, and always for failed probes (to ``failed_pcap_dir``), so a red CI run comes
with its evidence.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from netlab.errors import InvalidInput
from netlab.probes import layers
from netlab.probes.context import LabView
from netlab.probes.fastmatch import fast_match
from netlab.probes.nsfork import Reaper
from netlab.probes.packets import LINKTYPE_LINUX_SLL, sll_bytes, write_pcap
from netlab.probes.path import ProbePath
from netlab.probes.recorder import PathRecorder
from netlab.probes.result import ProbeResult, SuiteResult
from netlab.probes.spec import PATH_KINDS, AnyProbe, CaptureProbe, CountersProbe, FlowProbe

Progress = Callable[[ProbeResult], None]
"""Called after each probe of a suite, for live output."""

KINDS: dict[str, tuple[str, str]] = {
    "ping": ("ping", "run"), "tcp": ("connect", "run_tcp"), "udp": ("connect", "run_tcp"),
    "http": ("connect", "run_http"), "distribution": ("connect", "run_distribution"), "arp": ("arp", "run"),
    "capture": ("capture", "run"), "counters": ("counters", "run"), "sysctl": ("state", "run_sysctl"),
    "state": ("state", "run_state"), "flow": ("flow", "run"),
}
"""Probe kind → (module of netlab.probes, function). Imported when a probe of the kind first runs, so a run
pays only for the kinds it has (prepare imports them all before any child is forked)."""


def kind_runner(kind: str) -> Callable[[Any, Any], ProbeResult]:
    """The function that runs probes of ``kind`` (its module imported on first use)."""
    module, function = KINDS[kind]
    run: Callable[[Any, Any], ProbeResult] = getattr(importlib.import_module(f"netlab.probes.{module}"), function)
    return run


class ProbeRunner:
    """Runs probes of one lab that is up. One instance per run (``netlab probe``, ``Lab.probes()``)."""

    def __init__(self, view: LabView, pcap_dir: Path | None = None, failed_pcap_dir: Path | None = None,
                 record_path: bool = True, elsewhere: Callable[[AnyProbe], ProbeResult] | None = None) -> None:
        self._view = view
        self._elsewhere = elsewhere
        """For a lab spread over hosts: gets the result of a probe whose node is on another host (a capture's
        ``during`` run there by the controller, netlab.multihost), once this host is ready for it."""
        self._reaper = Reaper()
        self.pcap_dir = pcap_dir
        self.failed_pcap_dir = failed_pcap_dir
        self._recorder = PathRecorder(view, self._reaper) if record_path else None
        self.paths: dict[str, ProbePath] = {}
        """Probe name → the path its first run in this suite took."""

    @property
    def view(self) -> LabView:
        return self._view

    @property
    def reaper(self) -> Reaper:
        return self._reaper

    def select(self, only: Iterable[str] | None = None) -> list[AnyProbe]:
        """The probes to run, in declaration order; ``only`` names must exist (else InvalidInput)."""
        probes = list(self._view.probes.values())
        if not only:
            return probes
        wanted = list(dict.fromkeys(only))
        unknown = [name for name in wanted if name not in self._view.probes]
        if unknown:
            known = ", ".join(self._view.probes) or "none"
            raise InvalidInput(message=f"lab {self._view.lab} has no probe {', '.join(map(repr, unknown))}\n"
                                       f"    hint: its probes: {known}")
        return [p for p in probes if p.name in wanted]

    def prepare(self, probes: Iterable[AnyProbe]) -> None:
        """Import what the probes will need, once, before any child is forked: the modules of their kinds,
        and scapy only for a capture with ``match`` -- only the layers its keys name (:mod:`.layers`)."""
        closure = list(probes)
        closure += [self._view.probes[p.during] for p in closure
                    if isinstance(p, CaptureProbe | CountersProbe) and p.during in self._view.probes]
        for kind in dict.fromkeys(p.kind for p in closure):
            kind_runner(kind)
        names = [m["layer"] for p in closure if isinstance(p, CaptureProbe)
                 for m in map(layers.KEY.match, p.match) if m is not None]
        if any(isinstance(p, CaptureProbe) and p.match and fast_match(p.match) is None for p in closure):
            layers.preload(dict.fromkeys(names))  # a match the fast path cannot read (netlab.probes.fastmatch)
        if any(isinstance(p, CountersProbe) and p.ipvs is not None for p in closure):
            # what netlab.features.ipvs.kernel.read_table imports: once here, not in every child that reads the table
            from pyroute2 import IPVS, IPVSService  # noqa: F401
        if any(isinstance(p, FlowProbe) and p.queue is not None for p in closure):
            from pyroute2 import IPRoute  # noqa: F401  (the queue sampler's)

    def run_probe(self, probe: AnyProbe) -> ProbeResult:
        """One probe, timed; an unexpected exception becomes a failed result that says so."""
        # once per probe and run: a capture or counters probe runs its `during` again, along the same path
        recording = (self._recorder is not None and probe.kind in PATH_KINDS and probe.name not in self.paths
                     and self._recorder.start())
        start = time.monotonic()
        node = getattr(probe, "from_", None) or getattr(probe, "node", None)
        if self._elsewhere is not None and node is not None and node not in self._view.nodes:
            return self._elsewhere(probe)
        try:
            result = kind_runner(probe.kind)(self, probe)
        except InvalidInput:
            raise
        except Exception as exc:  # a bug or an unforeseen kernel answer: report, go on with the others
            result = ProbeResult(probe.name, probe.kind, False, "the probe to run", f"it crashed: "
                                 f"{type(exc).__name__}: {exc}", 0.0, error=True)
        seconds = time.monotonic() - start
        if recording and self._recorder is not None:
            path = self._recorder.finish(probe, result.passed)
            if path is not None:
                self.paths[probe.name] = path
        return dataclasses.replace(result, seconds=seconds)

    def _write_pcaps(self, result: ProbeResult) -> ProbeResult:
        target = self.pcap_dir if self.pcap_dir is not None else (None if result.passed else self.failed_pcap_dir)
        if target is None or not result.captures:
            return result
        written = []
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", result.name)
        for cap in result.captures:
            label = re.sub(r"[^A-Za-z0-9_.-]", "_", cap.label)
            path = target / f"{safe}.{label}.pcap"
            if cap.linktype == LINKTYPE_LINUX_SLL:
                records = [(f.time, sll_bytes(f)) for f in cap.frames]
            else:
                records = [(f.time, f.data) for f in cap.frames]
            written.append(str(write_pcap(path, cap.linktype, records)))
        return dataclasses.replace(result, pcaps=tuple(written))

    def run(self, only: Iterable[str] | None = None, progress: Progress | None = None) -> SuiteResult:
        """Run the selected probes (all by default) in declaration order."""
        probes = self.select(only)
        self.prepare(probes)
        start = time.monotonic()
        results = []
        try:
            for probe in probes:
                result = self._write_pcaps(self.run_probe(probe))
                self._reaper.poll()
                results.append(result)
                if progress is not None:
                    progress(result)
        finally:
            if self._recorder is not None:
                self._recorder.close()
        seconds = time.monotonic() - start
        self._reaper.release()  # children that answered and are still exiting (not part of any probe)
        return SuiteResult(self._view.lab, tuple(results), seconds, tuple(self.paths.values()))
