"""``netlab export`` of iptables: the node's payload, fed to ``iptables-restore`` inside it from a here-document.

Why the payload as it is, not ``iptables -A`` lines: ``iptables-restore`` replaces every table the node names in one
commit per table, as netlab loads it (:mod:`.kernel`), so the script leaves exactly the topology's rules and
policies, and ``iptables-save`` in the node prints them back in the same syntax. What is netlab's own goes: the
``netlab:LAB`` mark in the comment netlab adds to every rule. A rule's name stays its comment
(``-m comment --comment "block echo"``): ``counters`` probes find a rule by it.
"""

from __future__ import annotations

import re
from shlex import quote

from netlab.model.plan import LoadIptables
from netlab.ownership import RULE_COMMENT_PREFIX

PICK_RESTORE = (
    'IPTABLES_RESTORE=${IPTABLES_RESTORE:-$(for c in iptables-restore iptables-legacy-restore; do '
    "printf '*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -j ACCEPT\\nCOMMIT\\n' | unshare --net \"$c\" 2>/dev/null "
    '&& { echo "$c"; break; }; done)}')
"""The first ``iptables-restore`` that loads a rule in a scratch network namespace, as netlab picks one
(netlab.kernel.iptables.detect_backend), remembered in ``$IPTABLES_RESTORE``: a kernel without nf_tables (Debian's
user-mode Linux has none; its nft build of iptables-restore fails on every table) has iptables-legacy."""

NO_RESTORE = '[ -n "$IPTABLES_RESTORE" ] || { echo "no iptables-restore works in this kernel" >&2; false; }'

OWN_COMMENT = re.compile(r' -m comment --comment "' + re.escape(RULE_COMMENT_PREFIX) + r'\S+(?: ([^"]*))?"')
"""netlab's comment on a rule (:func:`.rules.with_comment`); group 1 is the rule's name."""


def payload_lines(payload: str) -> list[str]:
    """The payload without netlab's marks: a named rule keeps its name as its comment, an unnamed one has none."""
    out = []
    for line in payload.splitlines():
        if line.startswith("#"):
            continue  # netlab's header line (# netlab:LAB node NODE)
        m = OWN_COMMENT.search(line)
        if m is not None:
            name = f' -m comment --comment "{m[1]}"' if m[1] else ""
            line = line[:m.start()] + name + line[m.end():]
        out.append(line)
    return out


def commands(action: LoadIptables) -> list[str]:
    """The export hook (netlab.features.base.Feature.export): one iptables-restore with its here-document."""
    lines = payload_lines(action.payload)
    end = "RULES"
    while end in lines:
        end += "_"
    return [f"# {action.describe()}: every table named here is replaced whole",
            PICK_RESTORE, NO_RESTORE,
            f"ip netns exec {quote(action.netns)} \"$IPTABLES_RESTORE\" <<'{end}'", *lines, end]
