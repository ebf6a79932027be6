"""Apply hands each run of consecutive actions of one type to its executor in one call.

A feature's executor sees the whole run -- services are all forked before any handshake is awaited
(netlab.features.services.runner.apply) -- so the run must not be cut at every action. It once was:
the handler was a fresh ``functools.partial`` per action, and two partials never compare equal.
"""

from __future__ import annotations

from typing import Any

import pytest

from netlab.model.plan import Action, RunCommand, StartService
from netlab.stages import apply as apply_stage
from netlab.stages.apply import Applier


def _service(name: str, port: int) -> StartService:
    return StartService(netns="nl-t-s", node="s", name=name, kind="tcp-echo", protocol="tcp", address="0.0.0.0",
                        port=port, body="")


def test_a_run_of_service_starts_reaches_the_executor_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    commands: list[list[str]] = []

    def executor(_applier: Any, actions: list[Action]) -> None:
        calls.append([a.name for a in actions if isinstance(a, StartService)])

    monkeypatch.setattr(apply_stage, "load_hook", lambda ref: executor)
    applier = Applier.__new__(Applier)
    applier._handlers = {}
    monkeypatch.setattr(applier, "_commands", lambda run: commands.append([a.command for a in run]),
                        raising=False)
    cmd = RunCommand(netns="nl-t-s", node="s", command="true")
    applier._run_phase([_service("a", 7), _service("b", 8), _service("c", 9), cmd, cmd, _service("d", 10)])
    assert calls == [["a", "b", "c"], ["d"]]
    assert commands == [["true", "true"]]
