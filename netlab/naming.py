"""Names netlab accepts, and the kernel names it derives from them.

netlab runs as root and takes names from places other users can write: topology files, the command line,
state files. A name becomes a path (``/run/netlab/labs/<lab>.json``, ``/run/netns/<namespace>``), a kernel
object name and part of a shell prompt, so every name is checked here, once, at the edge, with
``re.fullmatch`` (``re.match`` with ``$`` lets a trailing newline through: a lab named ``"g06\\n"`` once
came up with newlines in its namespace names). A checked name has no ``/``, no ``..``, no NUL, no
whitespace and no shell metacharacter.

Namespace names are ``nl-<lab>.<owner>``. The dot cannot occur in a lab name, so no two labs can ever
derive the same namespace name (with a dash, lab ``x`` with node ``y-z`` and lab ``x-y`` with node ``z``
both made ``nl-x-y-z``).
"""

from __future__ import annotations

import re

from netlab.errors import InvalidInput

__all__ = [
    "LAB_NAME",
    "LAB_NAME_RULE",
    "NETNS_PREFIX",
    "NODE_NAME",
    "NODE_NAME_RULE",
    "checked_lab_name",
    "is_lab_name",
    "is_node_name",
    "netns_name",
    "split_netns_name",
]

LAB_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,23}")
LAB_NAME_RULE = ("1-24 characters: lower-case letters, digits and '-', starting with a letter or digit "
                 "(it prefixes namespace names)")
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
"""An inventory host's name (netlab.multihost): recorded in a host's state, checked again when read."""
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,14}")
NODE_NAME_RULE = ("1-15 characters: letters, digits, '-' and '_', starting with a letter or digit "
                  "(node names become namespace and bridge-port names)")
NETNS_PREFIX = "nl"


def is_lab_name(name: object) -> bool:
    return isinstance(name, str) and LAB_NAME.fullmatch(name) is not None


def is_node_name(name: object) -> bool:
    return isinstance(name, str) and NODE_NAME.fullmatch(name) is not None


def checked_lab_name(name: object, where: str = "lab name") -> str:
    """``name`` if it is a lab name, else InvalidInput (exit 2) saying what a lab name may be."""
    if not is_lab_name(name):
        raise InvalidInput(message=f"{where}: {name!r} is not a lab name\n    hint: {LAB_NAME_RULE}")
    assert isinstance(name, str)
    return name


def netns_name(lab: str, owner: str) -> str:
    """The namespace of node or LAN ``owner`` of lab ``lab``."""
    return f"{NETNS_PREFIX}-{lab}.{owner}"


def split_netns_name(netns: str) -> tuple[str, str] | None:
    """(lab, owner) of a namespace name netlab would derive, or None if it is not one."""
    if not netns.startswith(f"{NETNS_PREFIX}-"):
        return None
    lab, dot, owner = netns[len(NETNS_PREFIX) + 1:].partition(".")
    if not dot or not is_lab_name(lab) or not is_node_name(owner):
        return None
    return lab, owner


def derived_mac(lab: str, netns: str, ifname: str) -> str:
    """A locally administered unicast MAC derived from lab, namespace and interface name: unique across the
    hosts of a lab spread over several (netlab.multihost gives every link end without a MAC one), stable across
    runs -- so a probe on one host can name the node behind a MAC it saw from another (an ARP answer)."""
    from netlab.core.digest import sha256

    digest = sha256(f"{lab}/{netns}/{ifname}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))
