"""iptables in a node's namespace: which backend works here, loading a payload all-or-nothing, reading back.

Backend: Debian's ``iptables-restore`` is the nft one; some kernels have no nf_tables (the UML kernel of
``netlab vm`` answers "TABLE_ADD … Operation not supported") while the legacy x_tables work. So netlab
really tries each candidate -- the system default first, then ``iptables-legacy-restore`` -- by loading a
one-rule filter table in a scratch network namespace (``unshare(CLONE_NEWNET)`` in the child before exec:
nothing is ever loaded outside a throwaway namespace), and uses the first that works, for loading and
for reading counters alike. The answer depends only on the kernel and the binaries, so it is cached per
process.

All-or-nothing: ``iptables-restore`` commits table by table, so a payload whose nat table fails leaves
its filter table loaded (checked on both backends). netlab therefore runs ``--test`` first (parse and
extension errors, nothing loaded), then the real load, and if that fails loads an empty ACCEPT ruleset
into every table the node names before it reports: no half ruleset stays behind (and ``up`` then removes
the whole lab anyway). iptables' "Error occurred at line: N" is mapped back to the topology's file:line;
when the kernel refuses a table at COMMIT, the table's rules are loaded one more at a time to find the
rule it refused.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from netlab.core.frozen import frozen
from netlab.errors import ApplyError
from netlab.kernel.iptables import Backend, NoBackend, detect_backend, message, run
from netlab.kernel.netns import enter_for_exec
from netlab.model.plan import LoadIptables

if TYPE_CHECKING:  # an annotation: down, clean and up of a cached plan need no feature table
    from netlab.features.base import Executor

ERROR_LINE = re.compile(r"(?:Error occurred at line: |line )(\d+)")


def written(line: str) -> str:
    """A payload rule as the topology wrote it: without the comment netlab added."""
    return re.sub(r' -m comment --comment "netlab:[^"]*"', "", line, count=1)


def _origin_of(output: str, where: tuple[tuple[int, str], ...]) -> tuple[int | None, str | None]:
    m = ERROR_LINE.search(output)
    if m is None:
        return None, None
    line = int(m[1])
    return line, dict(where).get(line)


def _culprit(ns_fd: int, backend: Backend, payload: str, commit_line: int,
             where: tuple[tuple[int, str], ...]) -> tuple[int, str] | None:
    """The rule a table was refused for at COMMIT: load the table with one more rule at a time."""
    lines = payload.splitlines()
    start = max(i for i, text in enumerate(lines[:commit_line - 1]) if text.startswith("*"))
    head = [t for t in lines[start:commit_line - 1] if not t.startswith("-")]
    rules = [(i + 1, t) for i, t in enumerate(lines[start:commit_line - 1], start) if t.startswith("-")]
    origins = dict(where)
    for k in range(len(rules)):
        part = "\n".join([*head, *(t for _, t in rules[:k + 1]), "COMMIT"]) + "\n"
        code, out = run([backend.restore], part, lambda: enter_for_exec(ns_fd))
        if code != 0:
            return rules[k][0], f"{origins.get(rules[k][0], '?')}: `{written(rules[k][1])}`: {message(out)}"
    return None


def load(ns_fd: int, action: LoadIptables) -> Backend:
    """Load a node's payload inside its namespace, all or nothing. Raises :class:`ApplyError`."""
    try:
        backend = detect_backend()
    except NoBackend as exc:
        raise ApplyError(f"step `{action.describe()}` failed: {exc}") from None
    enter = lambda: enter_for_exec(ns_fd)  # noqa: E731
    code, out = run([backend.restore, "--test"], action.payload, enter)
    test_only = code != 0
    if not test_only:
        code, out = run([backend.restore], action.payload, enter)
        if code == 0:
            return backend
    lines = action.payload.splitlines()
    line, origin = _origin_of(out, action.rule_lines)
    detail = message(out) or f"exit {code}"
    if line is not None and origin is not None and origin.startswith("table "):
        found = None if test_only else _culprit(ns_fd, backend, action.payload, line, action.rule_lines)
        what = found[1] if found else f"{origin} was refused at COMMIT: {detail}"
    elif line is not None and 0 < line <= len(lines):
        what = f"{origin or f'payload line {line}'}: `{written(lines[line - 1])}`: {detail}"
    else:
        what = detail
    if not test_only:
        tables = tuple(t[1:] for t in lines if t.startswith("*"))
        run([backend.restore], _empty(tables), enter)
    raise ApplyError(f"iptables rules of node {action.node} refused by {backend.name}"
                     f"{' --test' if test_only else ''}; none of them is loaded:\n  {what}")


def _empty(tables: tuple[str, ...]) -> str:
    from netlab.features.iptables.rules import render_empty

    return render_empty(tables)


@frozen
class RuleCounter:
    table: str
    chain: str
    rule: str
    """As ``iptables-save`` prints it, without the counters."""
    packets: int
    bytes: int


@frozen
class ChainPolicy:
    table: str
    chain: str
    policy: str
    packets: int
    bytes: int


def parse_save(text: str) -> tuple[list[RuleCounter], list[ChainPolicy]]:
    """Rules and built-in chain policies, with counters, of every table in ``iptables-save -c`` output."""
    rules: list[RuleCounter] = []
    policies: list[ChainPolicy] = []
    table = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:]
        elif m := re.match(r"^\[(\d+):(\d+)\]\s+(-A\s+(\S+).*)$", line):
            rules.append(RuleCounter(table, m[4], m[3], int(m[1]), int(m[2])))
        elif (m := re.match(r"^:(\S+)\s+(\S+)\s+\[(\d+):(\d+)\]", line)) and m[2] != "-":
            policies.append(ChainPolicy(table, m[1], m[2], int(m[3]), int(m[4])))
    return rules, policies


def save_argv(family: int = 4, table: str | None = None) -> list[str]:
    """The ``iptables-save -c`` of the working backend (ip6tables' for family 6)."""
    try:
        save = detect_backend().save
    except NoBackend:
        save = "iptables-save"
    if family == 6:
        save = save.replace("/iptables-", "/ip6tables-").replace("iptables-save", "ip6tables-save")
    return [save, "-c", *(["-t", table] if table else [])]


def apply(executor: Executor, actions: list[LoadIptables]) -> None:
    """Apply's executor: each node's ruleset with one ``iptables-restore`` inside it, all or nothing."""
    for action in actions:
        load(executor.fd(action.netns), action)
