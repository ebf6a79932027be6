"""Static checks of a node's ``iptables:`` and the ``iptables-restore`` payload netlab renders from it.

Why plain code and not a template: the payload is a handful of line kinds (``*table``, ``:CHAIN policy``,
``-A …``, ``COMMIT``), and the renderer must also say which payload line came from which topology rule,
so that iptables' own "Error occurred at line: 7" can be reported as ``lab.yml:31``. Both are pure
(no kernel): ``--dry-run`` shows the payload and golden tests compare it.

What is checked before the kernel sees anything, each with the rule's file:line: the rule's form
(``-A CHAIN …`` or ``-I CHAIN [n] …``; tables come from the key, chains from ``chains:``), that its chain
is a built-in chain of *that* table or a declared user chain, that ``-j``/``-g`` go to a declared chain or
a known target, that NAT targets are in the nat table and the nat table does not filter, and that the
text parses (quotes). What only the kernel can tell (an option an extension does not have, a module
this kernel lacks) is reported by ``up`` with iptables' own message and the same file:line.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable

from netlab.features.iptables.model import Iptables, NamedRule
from netlab.features.iptables.resolved import TABLE_ORDER, ResolvedRule, ResolvedTable
from netlab.ownership import RULE_COMMENT_PREFIX as COMMENT_PREFIX

BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
ALL_BUILTIN = frozenset(c for chains in BUILTIN_CHAINS.values() for c in chains)

#: Targets of iptables and its extensions (iptables-extensions(8)); anything else after -j is a chain.
TARGETS = frozenset((
    "ACCEPT", "DROP", "RETURN", "QUEUE", "AUDIT", "CHECKSUM", "CLASSIFY", "CLUSTERIP", "CONNMARK", "CONNSECMARK",
    "CT", "DNAT", "DNPT", "DSCP", "ECN", "HL", "HMARK", "IDLETIMER", "LED", "LOG", "MARK", "MASQUERADE", "MIRROR",
    "NETMAP", "NFLOG", "NFQUEUE", "NOTRACK", "RATEEST", "REDIRECT", "REJECT", "SECMARK", "SET", "SNAT", "SNPT",
    "SYNPROXY", "TCPMSS", "TCPOPTSTRIP", "TEE", "TOS", "TPROXY", "TRACE", "TTL", "ULOG"))
NAT_TARGETS = {"DNAT": ("PREROUTING", "OUTPUT"), "REDIRECT": ("PREROUTING", "OUTPUT"),
               "SNAT": ("POSTROUTING", "INPUT"), "MASQUERADE": ("POSTROUTING",), "NETMAP": ()}
CHAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}")  # XT_EXTENSION_MAXNAMELEN - 1 = 28
RULE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _.:/+=,@-]{0,99}")
HEAD = re.compile(r"^\s*(?:-A|--append|-I|--insert)\s+\S+(?:\s+\d+(?=\s|$))?")

PathKey = tuple[str | int, ...]
Report = Callable[[PathKey, str, str | None], None]
"""report(data path, message, hint): how checks hand a problem to the validator."""


def rule_text(item: str | NamedRule) -> tuple[str, str | None]:
    """(rule, name) of a rule as written: a plain string or ``{rule, name}``."""
    if isinstance(item, NamedRule):
        return item.rule, item.name
    return item, None


def _close(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {found[0]!r}?" if found else None


def check(node: str, ipt: Iptables, report: Report) -> None:
    """Every problem in one node's ``iptables:``, reported with the data path of the rule (or key)."""
    base: PathKey = ("nodes", node, "iptables")
    for table, spec in ipt.tables():
        tpath: PathKey = (*base, table)
        builtin = BUILTIN_CHAINS[table]
        declared: set[str] = set()
        for k, chain in enumerate(spec.chains):
            cpath: PathKey = (*tpath, "chains", k)
            if not isinstance(chain, str):
                continue
            if not CHAIN_NAME.fullmatch(chain):
                report(cpath, f"chain name {chain!r} cannot be used",
                       "1-28 characters: letters, digits, '_', '.', '-' (not starting with '-' or '.')")
            elif chain in ALL_BUILTIN:
                report(cpath, f"{chain} is a built-in chain name",
                       f"built-in chains of {table} exist already: {', '.join(builtin)}" if chain in builtin
                       else f"{chain} is a hook chain of other tables; pick another name for a user chain")
            elif chain in TARGETS:
                report(cpath, f"{chain} is the name of a target", "a user chain needs a name no target has")
            elif chain in declared:
                report(cpath, f"chain {chain} is declared twice", None)
            declared.add(chain)
        for chain, policy in spec.policy.items():
            if chain not in builtin:
                report((*tpath, "policy", chain), f"{chain} is not a built-in chain of table {table}",
                       _close(chain, list(builtin)) or f"built-in chains of {table}: {', '.join(builtin)}")
            elif table == "nat" and policy != "ACCEPT":
                report((*tpath, "policy", chain), "the nat table does not filter: its policies are ACCEPT",
                       "drop in the filter table instead")
        for k, item in enumerate(spec.rules):
            if item is None:
                continue
            rule, name = rule_text(item)
            rpath: PathKey = (*tpath, "rules", k)
            if name is not None and not RULE_NAME.fullmatch(name):
                report((*rpath, "name"), f"rule name {name!r} cannot be used",
                       "up to 100 letters, digits, spaces and _.:/+=,@- (it goes into the rule's comment)")
            problem = rule_problem(table, rule, declared)
            if problem is not None:
                report(rpath if isinstance(item, str) else (*rpath, "rule"), *problem)


def rule_problem(table: str, rule: str, declared: set[str]) -> tuple[str, str | None] | None:
    """What is wrong with one rule of ``table`` (message, hint), or None."""
    builtin = BUILTIN_CHAINS[table]
    if "\n" in rule:
        return "a rule is one line", "write each rule as its own list item"
    if "'" in rule:
        return ("iptables-restore reads only double quotes: a single quote is part of the word",
                "write --comment \"two words\" (in YAML: '-A INPUT -m comment --comment \"two words\"')")
    try:
        tokens = shlex.split(rule)
    except ValueError as exc:
        return f"cannot parse the rule: {exc}", "check the quotes"
    if len(tokens) < 2 or tokens[0] not in ("-A", "--append", "-I", "--insert"):
        first = tokens[0] if tokens else ""
        if first in ("-N", "--new-chain"):
            name = tokens[1] if len(tokens) > 1 else "NAME"
            return "chains are declared under `chains:`, not with -N", f"chains: [{name}]"
        if first in ("-P", "--policy"):
            return "policies are set under `policy:`, not with -P", "policy: {FORWARD: DROP}"
        return (f"a rule starts with -A CHAIN or -I CHAIN, not {first!r}" if first else "the rule is empty",
                "example: -A FORWARD -p tcp --dport 7 -j DROP")
    chain = tokens[1]
    if chain not in builtin and chain not in declared:
        if chain in ALL_BUILTIN:
            return (f"table {table} has no chain {chain}",
                    f"its built-in chains: {', '.join(builtin)}; {chain} is in "
                    + ", ".join(t for t in TABLE_ORDER if chain in BUILTIN_CHAINS[t]))
        return (f"chain {chain} is neither a built-in chain of table {table} nor declared",
                _close(chain, [*builtin, *declared]) or f"declare it: `chains: [{chain}]` under {table}")
    for i, tok in enumerate(tokens):
        if tok in ("-t", "--table"):
            named = tokens[i + 1] if i + 1 < len(tokens) else "TABLE"
            return "a rule cannot name its table", f"put it under the `{named}:` key"
        if tok not in ("-j", "--jump", "-g", "--goto"):
            continue
        if i + 1 >= len(tokens):
            return f"{tok} needs a target or chain", None
        target = tokens[i + 1]
        jump_chain = tok in ("-g", "--goto") or target not in TARGETS
        if jump_chain:
            if target in declared:
                continue
            if target in ALL_BUILTIN:
                return f"a rule cannot jump to the built-in chain {target}", None
            return (f"{target} is neither a declared chain of table {table} nor a known target",
                    _close(target, sorted(declared)) or f"declare it: `chains: [{target}]` under {table}, or check "
                    "the target's spelling")
        if target in NAT_TARGETS:
            allowed = NAT_TARGETS[target]
            if table != "nat":
                return (f"{target} works only in the nat table",
                        f"move the rule under `nat:` (chains {', '.join(allowed) or 'any'})")
            if chain in builtin and allowed and chain not in allowed:
                return f"{target} is not allowed in chain {chain}", f"use {' or '.join(allowed)}"
        if table == "nat" and target in ("DROP", "REJECT"):
            return "the nat table is not for filtering: iptables refuses DROP and REJECT there", \
                "drop in the filter table instead"
        if target in ("NOTRACK", "CT") and table != "raw":
            return f"{target} works only in the raw table", None
    return None


def comment_of(lab: str, name: str | None) -> str:
    """The comment netlab puts on every rule it loads: whose it is (and the rule's name)."""
    return f"{COMMENT_PREFIX}{lab}" + (f" {name}" if name else "")


def with_comment(rule: str, comment: str) -> str:
    """``-A CHAIN [n] -m comment --comment "…" rest``: after the chain, so ``iptables-save`` shows it early."""
    m = HEAD.match(rule)
    assert m is not None, rule  # validated: every rule starts with -A/-I CHAIN
    rest = rule[m.end():].strip()
    return f'{m.group(0).strip()} -m comment --comment "{comment}"' + (f" {rest}" if rest else "")


def resolve_tables(lab: str, ipt: Iptables | None, origin: Callable[[PathKey], str],
                   node: str) -> tuple[ResolvedTable, ...]:
    """The node's tables with every default filled in and each rule's comment and origin."""
    if ipt is None:
        return ()
    out = []
    for table, spec in ipt.tables():
        rules = []
        for k, item in enumerate(spec.rules):
            written, name = rule_text(item)
            path: PathKey = ("nodes", node, "iptables", table, "rules", k)
            rules.append(ResolvedRule(table, with_comment(written, comment_of(lab, name)), written.strip(), name,
                                      origin(path)))
        out.append(ResolvedTable(table, tuple((c, spec.policy.get(c, "ACCEPT")) for c in BUILTIN_CHAINS[table]),
                                 tuple(spec.chains), tuple(rules)))
    return tuple(out)


def render(node: str, lab: str, tables: tuple[ResolvedTable, ...]) -> tuple[str, tuple[tuple[int, str], ...]]:
    """The ``iptables-restore`` payload of a node, and (payload line, origin) for each rule and COMMIT.

    Every table the node names is replaced whole (no ``--noflush``): what is loaded is exactly what the
    topology says. A COMMIT line maps to ``table <name>``: a table the kernel refuses at commit time.
    """
    lines = [f"# netlab:{lab} node {node}"]
    where: list[tuple[int, str]] = []
    for table in tables:
        lines.append(f"*{table.name}")
        lines += [f":{chain} {policy} [0:0]" for chain, policy in table.policies]
        lines += [f":{chain} - [0:0]" for chain in table.chains]
        for rule in table.rules:
            lines.append(rule.text)
            where.append((len(lines), rule.origin))
        lines.append("COMMIT")
        where.append((len(lines), f"table {table.name}"))
    return "\n".join(lines) + "\n", tuple(where)


def render_empty(tables: tuple[str, ...]) -> str:
    """A payload that leaves ``tables`` empty with ACCEPT policies: what a failed load is rolled back to."""
    lines = []
    for table in tables:
        lines.append(f"*{table}")
        lines += [f":{chain} ACCEPT [0:0]" for chain in BUILTIN_CHAINS[table]]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"
