"""The ``iptables:`` key without a kernel: static checks, the rendered iptables-restore payload (golden),
the line map back to the topology, requirements, and parsing ``iptables-save -c``."""

from __future__ import annotations

import textwrap

import pytest

from netlab.features.iptables.kernel import _origin_of, parse_save, written
from netlab.features.iptables.rules import render_empty, with_comment
from netlab.kernel.iptables import message as _message
from netlab.model.plan import LoadIptables
from netlab.requirements import derive
from tests import helpers
from tests.helpers import diagnostics, documented, planned, valid

LAB = """\
name: t
nodes:
  r:
    iptables:
      filter:
        chains: [LOG_DROP]
        policy: {FORWARD: DROP}
        rules:
          - "-A FORWARD -p tcp --dport 7 -j LOG_DROP"
          - {name: block echo, rule: '-A LOG_DROP -m comment --comment "mine" -j DROP'}
      raw:
        rules: ["-I PREROUTING 1 -p udp -j CT --notrack"]
      nat:
  s:
links:
  - a: {node: r, address: 10.0.0.1/24}
    b: {node: s, address: 10.0.0.2/24}
"""

PAYLOAD = """\
# netlab:t node r
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-I PREROUTING 1 -m comment --comment "netlab:t" -p udp -j CT --notrack
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:LOG_DROP - [0:0]
-A FORWARD -m comment --comment "netlab:t" -p tcp --dport 7 -j LOG_DROP
-A LOG_DROP -m comment --comment "netlab:t block echo" -m comment --comment "mine" -j DROP
COMMIT
"""


def load_action(text: str = LAB) -> LoadIptables:
    actions = planned(text, "dir/t.yml", path="/somewhere/dir/t.yml").actions
    (action,) = [a for a in actions if isinstance(a, LoadIptables)]
    return action


def test_payload_is_one_restore_file_in_table_order_with_the_lab_comment_on_every_rule() -> None:
    action = load_action()
    assert action.payload == PAYLOAD
    assert (action.netns, action.node) == ("nl-t.r", "r")
    assert action.describe() == "iptables-restore in r: 3 rules in raw, nat, filter"


def test_every_rule_and_commit_line_maps_back_to_the_topology() -> None:
    lines = dict(load_action().rule_lines)
    assert lines == {5: "t.yml:12", 6: "table raw", 12: "table nat", 18: "t.yml:9", 19: "t.yml:10",
                     20: "table filter"}


def test_iptables_phase_comes_after_routes_and_ipvs_before_commands_and_services() -> None:
    text = LAB.replace("  s:\n", "  s:\n    commands: [\"true\"]\n    services: [{kind: http}]\n")
    phases = [a.phase for a in planned(text, "t.yml").actions]
    assert phases.index("iptables") > max(i for i, p in enumerate(phases) if p == "addresses")
    assert phases.index("iptables") < phases.index("commands") < phases.index("services")


def test_without_lines_the_origin_is_the_data_path() -> None:
    (action,) = [a for a in planned(LAB, "t.yml", lines=False).actions if isinstance(a, LoadIptables)]
    assert dict(action.rule_lines)[18] == "nodes.r.iptables.filter.rules[0]"


def test_comment_goes_after_the_chain_and_the_insert_position() -> None:
    assert with_comment("-A INPUT -j ACCEPT", "netlab:x") == '-A INPUT -m comment --comment "netlab:x" -j ACCEPT'
    assert with_comment("-I INPUT 3 -j ACCEPT", "netlab:x") == \
        '-I INPUT 3 -m comment --comment "netlab:x" -j ACCEPT'
    assert with_comment("-A MYCHAIN", "netlab:x") == '-A MYCHAIN -m comment --comment "netlab:x"'
    assert written('-A INPUT -m comment --comment "netlab:x y" -j ACCEPT') == "-A INPUT -j ACCEPT"


def test_empty_ruleset_for_rollback() -> None:
    assert render_empty(("nat",)) == ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                                      ":POSTROUTING ACCEPT [0:0]\nCOMMIT\n")


def problems(rules: str, table: str = "filter", chains: str = "[]") -> list[str]:
    text = f"name: t\nnodes:\n  r:\n    iptables:\n      {table}:\n        chains: {chains}\n        rules:\n"
    text += "".join(f"          - {r!r}\n" for r in rules.splitlines())
    return [f"{d.line}: {d.message}" for d in diagnostics(text, "t.yml")]


@pytest.mark.parametrize(("table", "rule", "message"), [
    ("filter", "-A PREROUTING -j ACCEPT", "8: table filter has no chain PREROUTING"),
    ("filter", "-A FOO -j ACCEPT", "8: chain FOO is neither a built-in chain of table filter nor declared"),
    ("filter", "-X FOO", "8: a rule starts with -A CHAIN or -I CHAIN, not '-X'"),
    ("filter", "-P INPUT DROP", "8: policies are set under `policy:`, not with -P"),
    ("filter", "-A INPUT -j NOWHERE", "8: NOWHERE is neither a declared chain of table filter nor a known target"),
    ("filter", "-A INPUT -j DNAT --to 1.2.3.4", "8: DNAT works only in the nat table"),
    ("nat", "-A POSTROUTING -j DNAT --to 1.2.3.4", "8: DNAT is not allowed in chain POSTROUTING"),
    ("nat", "-A PREROUTING -j REJECT", "8: the nat table is not for filtering: iptables refuses DROP and REJECT there"),
    ("mangle", "-A PREROUTING -j CT --notrack", "8: CT works only in the raw table"),
    ("filter", "-A INPUT -g INPUT", "8: a rule cannot jump to the built-in chain INPUT"),
    ("filter", "-A INPUT -j LOG --log-prefix 'a b'",
     "8: iptables-restore reads only double quotes: a single quote is part of the word"),
])
def test_static_checks_name_the_rule_line(table: str, rule: str, message: str) -> None:
    assert problems(rule, table) == [message]


def test_good_rules_pass_the_static_checks() -> None:
    assert problems('-A INPUT -j MINE\n-A MINE -j LOG --log-prefix "x y"\n-A MINE -j RETURN\n-I FORWARD 2 -j DROP',
                    chains="[MINE]") == []
    assert problems("-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080\n"
                    "-A POSTROUTING -o eth0 -j MASQUERADE", "nat") == []


def test_bad_key_under_iptables_gets_a_hint() -> None:
    (diag,) = helpers.problems("name: t\nnodes:\n  r:\n    iptables: {filtre: {}}\n", "t.yml")
    assert (diag.line, diag.message, diag.hint) == (4, "unknown key 'filtre'", "did you mean 'filter'?")


def test_requirements_are_derived() -> None:
    reqs = {r.feature: r.reason for r in derive(valid(LAB, "t.yml"))}
    assert reqs["iptables"] == "node r has iptables rules (raw, nat, filter)"
    assert "tool:iptables-restore" in reqs


SAVE = """# Generated by iptables-save v1.8.9 (nf_tables)
*nat
:PREROUTING ACCEPT [3:180]
:DOCKER - [0:0]
[2:120] -A DOCKER -i eth0 -p tcp -m comment --comment "netlab:x" -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:FORWARD DROP [5:300]
[7:420] -A FORWARD -j ACCEPT
COMMIT
"""


def test_parse_save_reads_rules_and_policies_with_counters() -> None:
    rules, policies = parse_save(SAVE)
    assert [(r.table, r.chain, r.packets, r.bytes) for r in rules] == [("nat", "DOCKER", 2, 120),
                                                                       ("filter", "FORWARD", 7, 420)]
    assert [(p.table, p.chain, p.policy, p.packets) for p in policies] == [("nat", "PREROUTING", "ACCEPT", 3),
                                                                           ("filter", "FORWARD", "DROP", 5)]


def test_iptables_errors_are_reduced_to_their_words_and_line() -> None:
    out = textwrap.dedent("""\
        iptables-restore v1.8.9 (legacy): unknown option "--dportx"
        Error occurred at line: 19
        Try `iptables-restore -h' or 'iptables-restore --help' for more information.""")
    assert _message(out) == 'unknown option "--dportx"'
    assert _origin_of(out, ((19, "t.yml:9"),)) == (19, "t.yml:9")
    assert _origin_of("iptables-restore: line 20 failed", ((20, "table filter"),)) == (20, "table filter")


def test_the_docs_example_validates_and_loads_what_it_says() -> None:
    (action,) = [a for a in planned(documented("nat-gw"), "nat-gw.yml").actions if isinstance(a, LoadIptables)]
    assert '-A POSTROUTING -m comment --comment "netlab:nat-gw masquerade" -s 10.0.1.0/24' in action.payload
    assert ":FORWARD DROP [0:0]" in action.payload and ":LOG_DROP - [0:0]" in action.payload


def test_a_table_refused_at_commit_is_traced_to_its_rule_and_rolled_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a kernel: a fake iptables-restore that accepts --test but refuses, at COMMIT, any filter table
    holding the rule "-p tcp --dport 5"; netlab must find that rule, then load empty tables."""
    import netlab.features.iptables.kernel as kernel
    from netlab.errors import ApplyError

    calls: list[tuple[list[str], str]] = []

    def fake_run(argv: list[str], payload: str, preexec: object) -> tuple[int, str]:
        calls.append((argv, payload))
        if "--test" in argv or "--dport 5" not in payload:
            return 0, ""
        commit = payload.splitlines().index("COMMIT", payload.splitlines().index("*filter")) + 1
        return 1, f"iptables-restore: line {commit} failed"

    monkeypatch.setattr(kernel, "run", fake_run)
    monkeypatch.setattr(kernel, "detect_backend", lambda: kernel.Backend("/sbin/iptables-restore",
                                                                         "/sbin/iptables-save", "fake"))
    text = LAB.replace('"-A FORWARD -p tcp --dport 7 -j LOG_DROP"', '"-A FORWARD -p tcp --dport 5 -j LOG_DROP"')
    with pytest.raises(ApplyError) as err:
        kernel.load(-1, load_action(text))
    assert "t.yml:9: `-A FORWARD -p tcp --dport 5 -j LOG_DROP`" in str(err.value)
    assert calls[-1][1] == render_empty(("raw", "nat", "filter"))  # the node is left with empty tables


def test_iptables_never_runs_when_entering_the_namespace_fails() -> None:
    from netlab.kernel.iptables import run as _run

    def fail() -> None:
        raise OSError("setns refused")

    code, out = _run(["/bin/echo", "ran"], "", fail)
    assert code == -1 and "not run" in out and "ran" not in out
