"""Every exercise of the catalog, through the cycle a student and CI go through, for real:

start → check fails with exactly its graded checks failing (and every keep passing) → each known wrong fix →
check still fails and names that wrong fix → reset → solve → check passes → reset → check fails again.

Exercises that need kernel features this host lacks (IPVS, GRE, IPIP) are kernel-marked and run in the
full-kernel VM in CI (``netlab vm -- pytest -m kernel``), like the other kernel tests.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from netlab import catalog, requirements
from netlab.api import Lab
from netlab.features.exercises import session
from netlab.features.exercises.model import Exercise
from tests.helpers import REPO, netlab, running

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


def test_the_bank_does_not_shrink() -> None:
    """The [exercises] issue asks for at least 12; the bank holds 15, each passing this cycle in CI (the IPVS,
    GRE and IPIP ones in the VM). A guard against an exercise silently dropping out of the catalog."""
    assert len(EXERCISES) >= 15


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


def test_grade_scores_a_correct_a_wrong_and_a_destructive_submission(tmp_path: Path) -> None:
    """A teacher's run over three prepared submissions: the CSV says which solved it and why the others did not
    (the wrong fix is named; the destructive one fails the check it breaks), and the exit code is 1."""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "1-right.sh").write_text("# forwarding on\nrouter: sysctl -w net.ipv4.ip_forward=1\n")
    (subs / "2-wrong.sh").write_text("router: sysctl -w net.ipv4.conf.eth0.forwarding=1\n")
    (subs / "3-nat.txt").write_text("router: sysctl -w net.ipv4.ip_forward=1\n"
                                    "router: iptables -t nat -A POSTROUTING -o eth1 -j MASQUERADE\n")
    fixed = (REPO / "topologies" / "ex-router-forwarding.yml").read_text().replace(
        "net.ipv4.ip_forward: 0", "net.ipv4.ip_forward: 1")
    (subs / "4-fixed.yml").write_text(fixed)
    out = tmp_path / "grades.csv"
    done = netlab("exercise", "grade", "ex-router-forwarding", "--submissions", str(subs), "--csv", str(out),
                  "--json", str(tmp_path / "g.json"), "--junit", str(tmp_path / "g.xml"), timeout=600)
    assert done.returncode == 1, done.stderr
    rows = {r["submission"]: r for r in csv.DictReader(out.read_text().splitlines())}
    assert [rows[s]["solved"] for s in sorted(rows)] == ["yes", "no", "no", "yes"]
    assert rows["2-wrong.sh"]["wrong_fixes"] == "forwarding-per-interface"
    assert rows["3-nat.txt"]["failed_checks"] == "no-nat" and rows["3-nat.txt"]["passed"] == "3"
    assert rows["4-fixed.yml"]["kind"] == "topology"
    assert json.loads((tmp_path / "g.json").read_text())[1]["grade"]["wrong_fixes"][0][0] == "forwarding-per-interface"
    assert (tmp_path / "g.xml").read_text().count("<testsuite ") == 4
    assert netlab("status").stdout.count("lab ex-router-forwarding") == 0  # every copy came down


def test_check_exit_codes_say_solved_not_solved_not_an_exercise_and_not_up() -> None:
    assert netlab("exercise", "check", "ex-router-forwarding").returncode == 3
    with running("routed"):
        assert netlab("exercise", "check", "routed").returncode == 2
    start = netlab("exercise", "start", "ex-router-forwarding")
    try:
        assert start.returncode == 0 and "cannot reach the server" in start.stdout
        assert netlab("exercise", "check", "ex-router-forwarding").returncode == 1
        hint = netlab("exercise", "hint", "ex-router-forwarding")
        assert hint.returncode == 0 and hint.stdout.startswith("hint 1/3:")
        assert netlab("exercise", "solve", "ex-router-forwarding").returncode == 0
        assert netlab("exercise", "check", "ex-router-forwarding").returncode == 0
    finally:
        netlab("down", "ex-router-forwarding")
