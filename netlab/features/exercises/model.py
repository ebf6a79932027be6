"""The ``exercise:`` section of a topology: a lab that starts broken, with a task, hints, grading and a solution.

Why a section of the topology and not a file of its own: the broken start *is* a lab (the same YAML, the same
validation with file:line), and the checks that grade it are the lab's own probes, which already prove packet
paths. The section adds what a student and a teacher need around them:

* ``task``: the symptoms, never the fix; ``hints``: ordered, each more specific than the one before;
* ``checks``: probes that must pass for the exercise to count as solved, each with ``why`` -- what a failure
  means in the lab's terms; ``keep``: probes that must *still* pass, so a destructive "fix" (deleting the VIP,
  flushing the ruleset, bypassing the director) does not count;
* ``solution``: the reference fix as commands run in nodes; ``wrong_fixes``: fixes students try that do not
  work, each recognized by what it leaves in the kernel (``detect``) and explained (``explain``);
* ``step`` on checks and solution commands: checkpoints (``check --step N``, ``reset --step N``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_or_name(value: object) -> object:
    """``checks: [arp-only-director]`` is a check without its ``why``."""
    return {"probe": value} if isinstance(value, str) else value


class Check(_Model):
    """A probe of the lab that grades the exercise."""

    probe: str
    """Name of a probe under the lab's ``probes:``."""
    why: str | None = None
    """What a failure means in the lab's terms, shown with the probe's own observation."""
    step: int = Field(default=1, ge=1, le=20)
    """The checkpoint this check belongs to (``check --step N`` grades steps 1..N)."""


CheckItem = Annotated[Check, BeforeValidator(_check_or_name, json_schema_input_type=Check | str)]


class Command(_Model):
    """A shell command run inside a node (``/bin/sh -c``), as a student would type it in ``netlab shell``."""

    node: str
    """The node it runs in."""
    run: str
    """The command."""
    step: int = Field(default=1, ge=1, le=20)
    """The checkpoint it completes (``reset --step N`` replays the solution's steps before N)."""


class Observation(_Model):
    """A command run in a node whose output tells a wrong fix is in place."""

    node: str
    run: str
    """A command that only reads (``sysctl -n …``, ``ip -4 addr show dev lo``, ``iptables -S INPUT``)."""
    match: str
    """A regular expression searched in the command's output (stdout and stderr)."""


class WrongFix(_Model):
    """A fix students try that does not solve the exercise, and why."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    """Short name, shown in grading output and in ``grade`` reports."""
    commands: tuple[Command, ...] = ()
    """The wrong fix itself (CI applies it and checks that grading still fails with the explanation)."""
    detect: tuple[Observation, ...] = Field(min_length=1)
    """All of these hold when the wrong fix has been applied."""
    explain: str
    """Why it does not work, in the kernel's terms."""


class Exercise(_Model):
    """A hands-on exercise: the lab as written is the broken start."""

    title: str
    """One line: what the student fixes."""
    topic: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    """What it teaches (``arp``, ``ipvs-dr``, ``netfilter``, ``tunnels``, …): ``exercise list`` groups by it."""
    level: Literal[1, 2, 3] = 1
    """1 first steps, 2 needs the concept, 3 needs the kernel's details."""
    task: str
    """What the student is told: the symptoms and the goal, never the fix."""
    hints: tuple[str, ...] = Field(min_length=1)
    """Ordered hints, each more specific; ``exercise hint`` shows the next one and counts them."""
    checks: tuple[CheckItem, ...] = Field(min_length=1)
    """Probes that must pass when the exercise is solved (at least one must fail at the start)."""
    keep: tuple[CheckItem, ...] = ()
    """Probes that must still pass: what a destructive fix would break."""
    solution: tuple[Command, ...] = Field(min_length=1)
    """The reference fix."""
    wrong_fixes: tuple[WrongFix, ...] = ()
    """Fixes that do not work, recognized and explained when grading fails."""
    retries: int = Field(default=2, ge=0, le=10)
    """How many times a failing check is probed again (1 s, then 2 s, … apart) before it counts as failed:
    ARP caches and conntrack entries take a moment to follow a fix."""
