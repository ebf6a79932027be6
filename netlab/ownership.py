"""Every mark netlab puts on what it creates, and how it reads them back: the one place that defines them.

Why marks at all: ``down`` and ``clean`` must remove exactly what netlab made, also after a ``kill -9``, and
never anything by name pattern (Mininet's ``mn -c`` deletes by pattern and still leaves interfaces behind;
containerlab tags every interface it creates for the same reason). So:

* ``lo`` of every namespace netlab makes carries the ifalias ``netlab:<lab> run=<id> owner=<node>``
  (:func:`namespace_tag`): the run id ties it to one ``up``, so a namespace left by an older run of the
  same lab is recognised as stale;
* every interface netlab creates carries the ifalias ``netlab:<lab>`` (:func:`interface_tag`);
* every iptables rule carries ``-m comment --comment "netlab:<lab> <origin>"`` (:data:`RULE_COMMENT_PREFIX`).
"""

from __future__ import annotations

from netlab.core.frozen import frozen

__all__ = ["ALIAS_PREFIX", "RULE_COMMENT_PREFIX", "NamespaceTag", "interface_tag", "namespace_tag"]

ALIAS_PREFIX = "netlab:"
RULE_COMMENT_PREFIX = ALIAS_PREFIX


def interface_tag(lab: str) -> str:
    """The ifalias every interface netlab creates carries: whose it is."""
    return f"{ALIAS_PREFIX}{lab}"


def namespace_tag(lab: str, run: str, owner: str) -> str:
    """The ifalias of ``lo`` in every namespace netlab makes: the namespace's ownership tag."""
    return f"{ALIAS_PREFIX}{lab} run={run} owner={owner}"


@frozen
class NamespaceTag:
    """A namespace tag read back: which lab, which run, which node or LAN."""

    lab: str
    run: str
    owner: str

    @staticmethod
    def parse(alias: str | None) -> NamespaceTag | None:
        if not alias or not alias.startswith(ALIAS_PREFIX):
            return None
        lab, _, rest = alias[len(ALIAS_PREFIX):].partition(" ")
        fields = dict(part.partition("=")[::2] for part in rest.split())
        if "run" not in fields:
            return None
        return NamespaceTag(lab, fields["run"], fields.get("owner", ""))
