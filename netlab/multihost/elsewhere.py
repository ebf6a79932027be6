"""A probe a host cannot run itself: the ``during`` of a capture (or counters) probe whose traffic starts on
another host of the lab. The host watches; the controller runs the watched probe where its node is.

The handshake goes through two files in the host's run directory, ``<logs>/<lab>/elsewhere/``: this host writes
``<probe>.listening`` once its sniffers are bound (what the controller's playbook waits for), then waits for
``<probe>.result.json`` -- the other host's ``netlab probe --json`` answer, copied there by the controller -- and
goes on as if it had run the probe itself; the answer is left there until the probe runs again. Every path is
recomputed from the checked lab name and the probe's name; the answer is parsed as untrusted data.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from netlab import paths
from netlab.probes.result import ProbeResult
from netlab.probes.spec import AnyProbe
from netlab.stages.record import StateStore

WAIT = 120.0
"""Seconds a host waits for the result of a probe run elsewhere."""


def stem(probe: str) -> str:
    """The file name stem for a probe (its name, with anything but letters, digits, ``.``, ``-``, ``_`` replaced,
    and never a dot first): the controller's playbook computes the same."""
    return "p-" + re.sub(r"[^A-Za-z0-9_.-]", "_", probe)


def directory(store: StateStore, lab: str) -> Path:
    return store.log_dir(lab) / "elsewhere"


def waiter(lab: str, store: StateStore, wait: float = WAIT) -> Callable[[AnyProbe], ProbeResult]:
    """The runner's hook (netlab.probes.runner.ProbeRunner ``elsewhere``) for a host's part of a lab."""
    def run_elsewhere(probe: AnyProbe) -> ProbeResult:
        where = directory(store, lab)
        paths.make_dir(where.parent, 0o755)
        paths.make_dir(where, 0o700)
        result, listening = where / f"{stem(probe.name)}.result.json", where / f"{stem(probe.name)}.listening"
        result.unlink(missing_ok=True)
        paths.write_file(listening, "listening\n", 0o600)
        deadline = time.monotonic() + wait
        text = None
        try:
            while text is None and time.monotonic() < deadline:
                text = paths.read_file(result)
                if text is None:
                    time.sleep(0.05)
        finally:
            # the answer stays (the next run of this probe removes it first): the controller's copy renames it
            # into place and then sets its mode -- a file already gone fails Ansible's copy ("MODULE FAILURE")
            listening.unlink(missing_ok=True)
        expected = f"{probe.name} to run on the host of its node"
        if text is None:
            return ProbeResult(probe.name, probe.kind, False, expected,
                               f"no result came from that host within {wait:g} s", 0.0, error=True)
        return parse(text, probe, expected)

    return run_elsewhere


def parse(text: str, probe: AnyProbe, expected: str) -> ProbeResult:
    """The other host's ``netlab probe --json`` answer, for ``probe``; anything unexpected is a failed result."""
    try:
        data = json.loads(text)
        found = [r for r in data.get("results", []) if isinstance(r, dict) and r.get("name") == probe.name]
    except (ValueError, AttributeError):
        found = []
    if not found:
        return ProbeResult(probe.name, probe.kind, False, expected, "the other host's answer has no result of it",
                           0.0, error=True)
    r = found[0]
    seconds = r.get("seconds")
    return ProbeResult(probe.name, probe.kind, r.get("passed") is True, str(r.get("expected", expected)),
                       f"{r.get('observed', '')} (on another host)", float(seconds) if isinstance(seconds, int | float)
                       else 0.0)
