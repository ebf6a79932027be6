"""Exercises without a kernel: the format's validation, grading with fake probes, submissions' scripts and reports."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from netlab.errors import NetlabError
from netlab.features.exercises.grading import grade
from netlab.features.exercises.model import Exercise
from netlab.features.exercises.submissions import Result, parse_script, to_csv, to_junit
from netlab.probes.result import ProbeResult
from tests.helpers import REPO, problems, valid

EX = (REPO / "topologies" / "ex-router-forwarding.yml").read_text()


def exercise() -> Exercise:
    topo = valid(EX)
    assert topo.exercise is not None
    return topo.exercise


def result(name: str, passed: bool) -> ProbeResult:
    return ProbeResult(name, "ping", passed, "answers", "saw answers" if passed else "no answer", 0.01)


class FakeLab:
    """Probes pass once ``fixed_after`` runs have happened (the kernel catching up with a fix)."""

    def __init__(self, failing: set[str], fixed_after: int = 99) -> None:
        self.failing, self.fixed_after, self.runs, self.sleeps = failing, fixed_after, 0, []  # type: ignore[var-annotated]

    def run(self, names: Sequence[str]) -> list[ProbeResult]:
        self.runs += 1
        return [result(n, n not in self.failing or self.runs > self.fixed_after) for n in names]


def test_a_failing_check_says_what_was_seen_and_what_it_means() -> None:
    lab = FakeLab({"client-ping", "client-to-server", "no-nat"})
    g = grade("ex", exercise(), lab.run, lambda node, cmd: (0, ""), sleep=lab.sleeps.append)
    assert not g.solved and g.exit_code == 1 and g.score == (1, 4)
    text = g.render()
    assert "FAIL  client-ping: no answer" in text and "ICMP from the client still dies at the router" in text
    assert "PASS  router-reaches-both (must still hold)" in text
    assert lab.sleeps == [1.0, 2.0], "a failing check is retried after 1 s, then 2 s: bounded, never one long sleep"


def test_a_check_that_passes_on_a_retry_counts_as_passed() -> None:
    lab = FakeLab({"client-ping"}, fixed_after=1)
    g = grade("ex", exercise(), lab.run, lambda node, cmd: (0, ""), sleep=lab.sleeps.append)
    assert g.solved and g.attempts == 2 and lab.sleeps == [1.0]


def test_a_known_wrong_fix_is_named_and_explained_only_when_its_state_is_there() -> None:
    lab = FakeLab({"client-ping"})
    seen = grade("ex", exercise(), lab.run, lambda node, cmd: (0, "1\n0\n"), sleep=lambda s: None)
    assert [name for name, _ in seen.wrong_fixes] == ["forwarding-per-interface"]
    assert "comes *in* on" in seen.render()
    other = grade("ex", exercise(), lab.run, lambda node, cmd: (0, "0\n0\n"), sleep=lambda s: None)
    assert other.wrong_fixes == ()


def test_a_step_beyond_the_exercise_is_invalid_input() -> None:
    with pytest.raises(NetlabError, match="has no step 3"):
        grade("ex", exercise(), FakeLab(set()).run, lambda n, c: (0, ""), step=3, sleep=lambda s: None)


def test_the_exercise_section_is_validated_with_every_problem_at_once() -> None:
    bad = (EX.replace("- probe: client-ping", "- probe: client-pnig")
             .replace('{node: router, run: "sysctl -w net.ipv4.ip_forward=1"}', '{node: ruoter, run: "true"}')
             .replace('match: "^1\\\\n0$"', 'match: "(unclosed"'))
    found = "\n".join(d.render() for d in problems(bad))
    assert "exercise.checks[0].probe" in found and "did you mean 'client-ping'" in found
    assert "exercise.solution[0].node" in found and "did you mean 'router'" in found
    assert "exercise.wrong_fixes[0].detect[0].match" in found


def test_a_topic_is_a_slug_matched_whole() -> None:
    found = "\n".join(d.render() for d in problems(EX.replace("topic: routing", "topic: Routing!")))
    assert "exercise.topic" in found


def test_a_script_submission_is_node_colon_command_lines() -> None:
    cmds = parse_script("# comment\n\nrouter: sysctl -w net.ipv4.ip_forward=1\n  rs1 :  ip route\n", "s.sh")
    assert [(c.node, c.run) for c in cmds] == [("router", "sysctl -w net.ipv4.ip_forward=1"), ("rs1", "ip route")]
    with pytest.raises(NetlabError, match=r"s\.sh:2: not `NODE: COMMAND`"):
        parse_script("router: true\njust words\n", "s.sh")


def test_reports_name_each_failed_check_and_wrong_fix() -> None:
    lab = FakeLab({"client-ping"})
    g = grade("ex", exercise(), lab.run, lambda node, cmd: (0, "1\n0\n"), sleep=lambda s: None)
    rows = to_csv([Result("a.sh", "script", g), Result("b.yml", "topology", None, "did not validate")]).splitlines()
    assert rows[0] == "submission,kind,solved,passed,total,failed_checks,wrong_fixes,error"
    assert rows[1] == "a.sh,script,no,3,4,client-ping,forwarding-per-interface,"
    assert rows[2] == "b.yml,topology,no,0,0,,,did not validate"
    xml = to_junit("ex", [Result("a.sh", "script", g)])
    assert xml.count("<testcase ") == 4 and xml.count("<failure ") == 1
