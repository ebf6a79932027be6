"""The ``iptables:`` key of a node: tables, their user chains, policies and rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from netlab.features.iptables.resolved import TABLE_ORDER


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _empty_is_default(value: object) -> object:
    """``nat:`` with nothing under it is an empty table (built-in chains, ACCEPT policies), not an error."""
    return {} if value is None else value


class NamedRule(_Model):
    """A rule with a name: the name goes into the rule's comment (``netlab:<lab> <name>``), so probes and
    ``status`` can point at it."""

    rule: str
    """The rule in ``iptables-save`` syntax: ``-A FORWARD -p tcp --dport 7 -j DROP``."""
    name: str | None = None
    """A short label (letters, digits, spaces and ``_.:/+=,@-``)."""


Policy = Literal["ACCEPT", "DROP"]


class Table(_Model):
    """One table of a node: what netlab loads into it with ``iptables-restore`` (the whole table is replaced)."""

    chains: tuple[str, ...] = ()
    """User-defined chains (``LOG_DROP``); rules may append to them and jump to them."""
    policy: dict[str, Policy] = {}
    """Policies of built-in chains (``FORWARD: DROP``); default ACCEPT."""
    rules: tuple[str | NamedRule, ...] = ()
    """Rules in ``iptables-save`` syntax (``-A CHAIN …`` or ``-I CHAIN [n] …``), loaded in order. netlab adds
    ``-m comment --comment "netlab:<lab>"`` to each (a comment of the rule's own stays)."""


TableField = Annotated[Table | None, BeforeValidator(_empty_is_default, json_schema_input_type=Table | None)]


class Iptables(_Model):
    """A node's IPv4 netfilter rules, by table."""

    raw: TableField = None
    """Before connection tracking: PREROUTING, OUTPUT (``-j CT --notrack``)."""
    mangle: TableField = None
    """Packet alteration (marks, TTL): PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING."""
    nat: TableField = None
    """Address translation, first packet of a connection only: PREROUTING, INPUT, OUTPUT, POSTROUTING."""
    filter: TableField = None
    """Filtering: INPUT, FORWARD, OUTPUT."""
    security: TableField = None
    """Mandatory access control (SELinux labels), after filter: INPUT, FORWARD, OUTPUT."""

    def tables(self) -> list[tuple[str, Table]]:
        """The tables the node sets, in the order netlab loads them (that of ``iptables-save``)."""
        return [(name, t) for name in TABLE_ORDER if (t := getattr(self, name, None)) is not None]

