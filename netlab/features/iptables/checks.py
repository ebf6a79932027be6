"""The iptables checks of validate beyond the rules' own syntax (:mod:`.rules`): what iptables-restore refuses.

Found by fuzzing the validate-implies-up property: a rule that names its table, and ``-p NAME`` with a
protocol iptables does not know, passed validate and failed ``up`` after the lab was built.
"""

from __future__ import annotations

import re

from netlab.core.diagnostics import Collector, PathKey
from netlab.features.iptables import rules as iptables_checks
from netlab.features.iptables.model import Iptables

IPTABLES_PROTOCOLS = frozenset({"tcp", "sctp", "udp", "udplite", "icmp", "icmpv6", "ipv6-icmp", "esp", "ah",
                                "ipv6-mh", "mh", "all"})
"""The protocol names iptables knows itself (libxtables' chain_protos); others it looks up in /etc/protocols."""
_FREE_TEXT = ("--comment", "--log-prefix", "--nflog-prefix")


def check_tables(node: str, ipt: Iptables, col: Collector) -> None:
    """What features.iptables.rules lets through and iptables-restore refuses, found by fuzzing: a rule that names
    its table as ``--table=nat``, ``--tab nat`` or ``-tnat`` (the table comes from the payload's ``*table``
    line, and a table named in a rule is refused), and ``-p NAME`` with a protocol iptables does not know
    (``unknown protocol "icmype" specified``). Either failed ``up`` after building the lab."""
    import shlex

    for table, spec in ipt.tables():
        for k, item in enumerate(spec.rules):
            if item is None:
                continue
            rule = iptables_checks.rule_text(item)[0]
            path: PathKey = ("nodes", node, "iptables", table, "rules", k)
            where = path if isinstance(item, str) else (*path, "rule")
            try:
                tokens = shlex.split(rule)
            except ValueError:
                continue  # reported by netlab.features.iptables.rules
            for i, tok in enumerate(tokens):
                if i and tokens[i - 1] in _FREE_TEXT:
                    continue
                if tok not in ("-t", "--table") and re.fullmatch(r"--ta(b(le?)?)?(=.*)?|-t[a-z]+", tok):
                    named = tok.partition("=")[2] if "=" in tok else tok[2:] if not tok.startswith("--") else \
                        tokens[i + 1] if i + 1 < len(tokens) else "TABLE"
                    col.add(where, "a rule cannot name its table",
                            f"put it under the `{named}:` key (iptables-restore takes the table from the "
                            "payload's *table line and refuses a table named in a rule)")
                    break
                if tok in ("-p", "--protocol", "--proto") and i + 1 < len(tokens):
                    name = tokens[i + 2] if tokens[i + 1] == "!" and i + 2 < len(tokens) else tokens[i + 1]
                    if not _known_protocol(name):
                        col.add(where, f"iptables knows no protocol {name!r}",
                                "iptables-restore refuses the rule (unknown protocol); use tcp, udp, icmp, sctp, "
                                "all, a name from /etc/protocols or a number 0-255")
                        break


def _known_protocol(name: str) -> bool:
    """As iptables parses ``-p`` (lower-cased first): a number, one of its own names, or a name /etc/protocols has
    (getprotobyname, as iptables itself looks it up, in the same file system)."""
    import socket

    name = name.lower()
    if name.isdigit():
        return int(name) <= 255
    if name in IPTABLES_PROTOCOLS:
        return True
    try:
        socket.getprotobyname(name)
    except OSError:
        return False
    return True
