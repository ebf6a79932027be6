"""One step of a Vagrant workflow: a command with a time limit, its output kept, its process group killed.

Why process groups: ``vagrant up`` starts Ruby, which starts ssh, rsync and (for the ansible provisioner)
ansible-playbook; killing only the first leaves the rest holding the VM. Each step runs in a session of its
own and a timeout or Ctrl-C kills the whole group before the cleanup runs. Output goes to a log file per
step (``LOG_DIR/NN-name.log``) and its last lines into the error, so a failure in CI is readable without
rerunning.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from netlab.core.frozen import frozen
from netlab.errors import NetlabError
from netlab.interrupts import kill_group

__all__ = ["StepFailed", "StepResult", "Steps"]

TAIL = 15


class StepFailed(NetlabError):
    """A step exited non-zero or ran out of time."""

    exit_code = 1


@frozen
class StepResult:
    name: str
    seconds: float
    rc: int
    log: Path
    output: str


class Steps:
    """Runs the steps of one workflow in order, recording each one's time (for the report and the note)."""

    def __init__(self, log_dir: Path, say: Callable[[str], None]) -> None:
        self.log_dir = log_dir
        self.say = say
        self.results: list[StepResult] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def run(self, name: str, argv: Sequence[str], *, timeout: float, cwd: Path | None = None,
            env: Mapping[str, str] | None = None, check: bool = True) -> StepResult:
        """Run ``argv``; raise StepFailed (with the log's last lines) on a non-zero exit or the time limit."""
        log = self.log_dir / f"{len(self.results) + 1:02d}-{name}.log"
        self.say(f"{name}: {' '.join(argv)} (limit {timeout:.0f} s)")
        start = time.monotonic()
        with log.open("wb") as out:
            proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                kill_group(proc, grace=10)
                rc, timed_out = -1, True
            except BaseException:  # Ctrl-C: the whole group goes before the caller's cleanup runs
                kill_group(proc, grace=10)
                self.results.append(StepResult(name, round(time.monotonic() - start, 1), -2, log, "interrupted"))
                raise
        seconds = time.monotonic() - start
        output = log.read_text(errors="replace")
        result = StepResult(name, round(seconds, 1), rc, log, output)
        self.results.append(result)
        if timed_out or (check and rc != 0):
            tail = "\n".join(f"    | {ln}" for ln in output.splitlines()[-TAIL:])
            why = f"ran out of its {timeout:.0f} s" if timed_out else f"exited {rc}"
            raise StepFailed(f"{name} {why} after {seconds:.0f} s (log: {log})\n{tail}")
        self.say(f"{name}: done in {seconds:.0f} s")
        return result

    def record(self, name: str, seconds: float, rc: int = 0, output: str = "") -> StepResult:
        """A step done in-process (ansible-runner): timed by the caller, listed with the others."""
        result = StepResult(name, round(seconds, 1), rc, self.log_dir / f"{name}", output)
        self.results.append(result)
        return result
