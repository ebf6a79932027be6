"""Every exercise of the catalog, through the cycle a student and CI go through, for real:

start → check fails with exactly its graded checks failing (and every keep passing) → each known wrong fix →
check still fails and names that wrong fix → reset → solve → check passes → reset → check fails again.

Exercises that need kernel features this host lacks (IPVS, GRE, IPIP) are kernel-marked and run in the
full-kernel VM in CI (``netlab vm -- pytest -m kernel``), like the other kernel tests.
"""

from __future__ import annotations

import pytest

from netlab import catalog, requirements
from netlab.api import Lab
from netlab.features.exercises import session
from netlab.features.exercises.model import Exercise

pytestmark = pytest.mark.root


def _exercises() -> list[object]:
    params = []
    for name in catalog.names():
        lab = Lab.load(name)
        if lab.resolved.exercise is None:
            continue
        needs = sorted({r.feature for r in requirements.derive(lab.topology)} - {"netns", "veth"})
        needs = [n for n in needs if not n.startswith("tool:")]
        params.append(pytest.param(name, marks=pytest.mark.kernel(*needs), id=name))
    return params


EXERCISES = _exercises()


def test_the_bank_has_at_least_twelve_exercises() -> None:
    assert len(EXERCISES) >= 12


@pytest.mark.parametrize("name", EXERCISES)
def test_exercise_cycle(name: str) -> None:
    ex = Exercise.model_validate(Lab.load(name).resolved.exercise)
    graded = {c.probe for c in ex.checks}
    lab, _, _ = session.start(name)
    try:
        start = session.check(lab)
        assert not start.solved
        failing = {c.probe for c in start.checks if not c.passed}
        assert failing == graded, f"{name}: at the start exactly the graded checks fail:\n{start.render()}"
        for fix in ex.wrong_fixes:
            session.reset(lab)
            session.run_commands(lab, fix.commands)
            after = session.check(lab)
            assert not after.solved, f"{name}: the wrong fix {fix.name} passed:\n{after.render()}"
            assert fix.name in {n for n, _ in after.wrong_fixes}, f"{name}: {fix.name} not recognized:\n" \
                                                                   f"{after.render()}"
        session.reset(lab)
        session.solve(lab)
        solved = session.check(lab)
        assert solved.solved, f"{name}: the reference solution does not solve it:\n{solved.render()}"
        assert solved.wrong_fixes == ()
        session.reset(lab)
        again = session.check(lab)
        assert not again.solved and {c.probe for c in again.checks if not c.passed} == graded
    finally:
        Lab.load(name).down()
