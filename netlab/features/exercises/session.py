"""A student's session with one exercise: start, hint, check, solve, reset -- on a lab that is up.

The exercise is read from the lab's recorded state (the ``exercise:`` section as resolved at ``up``), never
from the file again: a student editing the topology cannot change how it is graded. Hints shown are counted
in ``<run dir>/exercises/<lab>.json`` (root's run directory, written like the state: netlab.paths).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from netlab import paths
from netlab.errors import ApplyError, InvalidInput
from netlab.features.exercises.grading import Grade, grade
from netlab.features.exercises.model import Command, Exercise
from netlab.naming import checked_lab_name
from netlab.probes.result import ProbeResult


def exercise_of(lab: str) -> Exercise:
    """The exercise of lab ``lab``, which must be up (LabNotUp, exit 3) and be an exercise (exit 2)."""
    from netlab.api import state_of

    state = state_of(lab)
    raw = state.resolved.exercise
    if raw is None:
        raise InvalidInput(message=f"lab {lab} is not an exercise\n    hint: `netlab exercise list` lists them")
    return Exercise.model_validate(raw)


def start(ref: str) -> tuple[str, Exercise, str]:
    """Bring the exercise's lab up in its broken state; (lab, exercise, what `up` said)."""
    from netlab.api import Lab

    lab = Lab.load(ref)
    raw = lab.resolved.exercise
    if raw is None:
        raise InvalidInput(message=f"{ref} is a lab but not an exercise (it has no `exercise:` section)")
    result = lab.up()
    _write_hints(lab.name, 0)
    return lab.name, Exercise.model_validate(raw), result.message


def run_commands(lab: str, commands: Iterable[Command], *, strict: bool = True) -> list[tuple[Command, int, str]]:
    """Run each command in its node (``/bin/sh -c``); with ``strict``, the first that fails raises ApplyError."""
    done = []
    for cmd in commands:
        code, output = exec_shell(lab, cmd.node, cmd.run)
        if code != 0 and strict:
            raise ApplyError(f"`{cmd.node}: {cmd.run}` exited with {code}: {output.strip()[-300:]}")
        done.append((cmd, code, output))
    return done


def exec_shell(lab: str, node: str, command: str) -> tuple[int, str]:
    from netlab.api import exec_in

    shim = _iptables_shim()
    argv = ["/bin/sh", "-c", command]
    if shim is not None:
        argv = ["/usr/bin/env", f"PATH={shim}:/usr/sbin:/usr/bin:/sbin:/bin", *argv]
    done = exec_in(lab, node, argv)
    return done.returncode, done.stdout or ""


def _iptables_shim() -> Path | None:
    """Where this kernel has only the legacy x_tables (user-mode Linux has no nf_tables), a directory in which
    ``iptables``, ``iptables-save`` and ``iptables-restore`` are the legacy ones: the exercise's commands then
    act on the ruleset netlab loaded (netlab.kernel.iptables picks the backend the same way), not on an empty
    nf_tables one. None where the default works."""
    from netlab.kernel.iptables import NoBackend, detect_backend

    try:
        backend = detect_backend()
    except NoBackend:
        return None
    if backend.name != "iptables-legacy-restore":
        return None
    shim = paths.run_dir() / "iptables-legacy"
    paths.make_dir(shim)
    base = Path(backend.restore).parent
    for tool in ("iptables", "iptables-save", "iptables-restore"):
        link = shim / tool
        if not link.is_symlink():
            link.symlink_to(base / tool.replace("iptables", "iptables-legacy", 1))
    return shim


def check(lab: str, step: int | None = None) -> Grade:
    from netlab.api import run_probes

    ex = exercise_of(lab)

    def run(names: Sequence[str]) -> Sequence[ProbeResult]:
        return run_probes(lab, list(dict.fromkeys(names))).results

    result = grade(lab, ex, run, lambda node, command: exec_shell(lab, node, command), step)
    return Grade(result.lab, result.solved, result.checks, result.wrong_fixes, result.step, result.attempts,
                 _read_hints(lab))


def solve(lab: str, before_step: int | None = None) -> int:
    """Apply the reference solution (only the steps before ``before_step`` if given); the number of commands."""
    ex = exercise_of(lab)
    commands = [c for c in ex.solution if before_step is None or c.step < before_step]
    run_commands(lab, commands)
    return len(commands)


def reset(lab: str, step: int | None = None) -> str:
    """Back to the broken start (the lab rebuilt from the file it was brought up from); with ``step``, the
    reference solution of the steps before it replayed, so the student starts at that checkpoint."""
    from netlab.api import Lab, down, state_of

    state = state_of(lab)
    exercise_of(lab)
    base = Lab.load(state.source)
    suffix = lab[len(base.name) + 1:] if lab != base.name and lab.startswith(base.name + "-") else None
    down(lab)
    result = Lab.load(state.source, name_suffix=suffix).up()
    _write_hints(lab, 0)
    if step is not None and step > 1:
        solve(lab, before_step=step)
    return result.message


def hint(lab: str) -> tuple[int, int, str]:
    """(number, total, text) of the next hint; past the last one, the last again."""
    ex = exercise_of(lab)
    shown = _read_hints(lab)
    number = min(shown + 1, len(ex.hints))
    _write_hints(lab, max(shown, number))
    return number, len(ex.hints), ex.hints[number - 1]


def _hints_path(lab: str) -> Path:
    return paths.run_dir() / "exercises" / f"{checked_lab_name(lab)}.json"


def _read_hints(lab: str) -> int:
    try:
        text = paths.read_file(_hints_path(lab))
        data = json.loads(text) if text else {}
    except (OSError, ValueError, paths.UnsafeRunDir):
        return 0
    value = data.get("hints", 0) if isinstance(data, dict) else 0
    return value if isinstance(value, int) and 0 <= value <= 100 else 0


def _write_hints(lab: str, count: int) -> None:
    path = _hints_path(lab)
    paths.make_dir(path.parent)
    paths.write_file(path, json.dumps({"hints": count}))
