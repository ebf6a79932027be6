"""Grade a live exercise lab: its checks and keeps as probes, retried within a bound, and wrong fixes recognized.

Why probes: they already prove packet paths and say what they observed ("ARP for 10.0.10.100 answered by 3
MACs"); grading adds what the failure means in the lab's terms (the check's ``why``) and, when a known wrong
fix is in place, why that fix cannot work. A check that fails is probed again after 1 s, then 2 s, … up to the
exercise's ``retries``: ARP caches and conntrack follow a fix within a moment, and a fixed sleep would either
waste time or be too short.

Exit codes: 0 solved, 1 not solved, 2 not an exercise (or an invalid one), 3 the lab is not up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import field

from netlab.core.frozen import frozen
from netlab.errors import InvalidInput
from netlab.features.exercises.model import Check, Exercise, WrongFix
from netlab.probes.result import ProbeResult

SOLVED, NOT_SOLVED = 0, 1

RunProbes = Callable[[Sequence[str]], Sequence[ProbeResult]]
"""Runs the named probes of the lab and returns their results (netlab.api.run_probes, or a fake in tests)."""
Exec = Callable[[str, str], tuple[int, str]]
"""Runs a shell command in a node: (exit code, output)."""


@frozen
class CheckResult:
    probe: str
    passed: bool
    observed: str
    why: str
    """What a failure means in the lab's terms (empty when passed or not given)."""
    kept: bool = False
    """A ``keep`` check: it must still hold (a destructive fix breaks it)."""


@frozen
class Grade:
    lab: str
    solved: bool
    checks: tuple[CheckResult, ...]
    wrong_fixes: tuple[tuple[str, str], ...] = ()
    """(name, explanation) of each known wrong fix found in place."""
    step: int | None = None
    attempts: int = 1
    hints_used: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return SOLVED if self.solved else NOT_SOLVED

    @property
    def score(self) -> tuple[int, int]:
        """(passed, total) over the graded checks and the keeps."""
        return sum(c.passed for c in self.checks), len(self.checks)

    def render(self) -> str:
        """What a student reads: each check with what was seen and, when it failed, what that means."""
        lines = []
        for c in self.checks:
            mark = "PASS" if c.passed else "FAIL"
            label = f"{c.probe} (must still hold)" if c.kept else c.probe
            lines.append(f"  {mark}  {label}: {c.observed}")
            if not c.passed and c.why:
                lines.append(f"        {c.why}")
        for name, text in self.wrong_fixes:
            lines.append(f"  note: this looks like the wrong fix `{name}`: {text}")
        passed, total = self.score
        verdict = "solved" if self.solved else "not solved yet"
        where = f" (steps 1-{self.step})" if self.step else ""
        return f"exercise {self.lab}{where}: {verdict}, {passed}/{total} checks pass\n" + "\n".join(lines)


def selected(ex: Exercise, step: int | None) -> list[Check]:
    return [c for c in ex.checks if step is None or c.step <= step]


def grade(lab: str, ex: Exercise, run: RunProbes, exec_in: Exec, step: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> Grade:
    """Grade the live lab ``lab``. Probes that fail are retried (1 s, 2 s, …) up to ``ex.retries`` times."""
    last = max(c.step for c in ex.checks)
    if step is not None and not 1 <= step <= last:
        raise InvalidInput(message=f"exercise {lab} has no step {step} (its steps are 1-{last})")
    graded = selected(ex, step)
    names = [c.probe for c in graded] + [k.probe for k in ex.keep]
    results = {r.name: r for r in run(names)}
    attempts = 1
    for wait in range(1, ex.retries + 1):
        failing = [n for n in names if not results[n].passed]
        if not failing:
            break
        sleep(float(wait))
        results |= {r.name: r for r in run(failing)}
        attempts += 1
    checks = tuple(CheckResult(c.probe, results[c.probe].passed, results[c.probe].observed,
                               "" if results[c.probe].passed else (c.why or ""))
                   for c in graded)
    checks += tuple(CheckResult(k.probe, results[k.probe].passed, results[k.probe].observed,
                                "" if results[k.probe].passed else (k.why or "a fix must not break this"),
                                kept=True) for k in ex.keep)
    solved = all(c.passed for c in checks)
    found = () if solved else tuple((f.name, f.explain) for f in ex.wrong_fixes if in_place(f, exec_in))
    return Grade(lab, solved, checks, found, step, attempts)


def in_place(fix: WrongFix, exec_in: Exec) -> bool:
    """Every observation of the wrong fix matches what the kernel says now."""
    for obs in fix.detect:
        _code, output = exec_in(obs.node, obs.run)
        if not re.search(obs.match, output, re.MULTILINE):
            return False
    return True
