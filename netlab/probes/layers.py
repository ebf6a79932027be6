"""Which scapy modules a capture probe's ``match`` needs, and the layer classes its keys name.

Why not ``import scapy.all``: it loads every protocol scapy knows (Kerberos, SMB, TLS with its X.509
stack, DNS, ...), ≈350 ms on a fast host and ≈28 s inside the full-kernel VM (bench/MEASUREMENTS.md §2),
for a probe run that looks at IP addresses. What matters for correctness is not only the class a key
names but the ``bind_layers`` calls made when a module is imported: they decide how deep a frame is
dissected (an Ethernet frame inside VXLAN is reached only once :mod:`scapy.layers.vxlan` bound UDP port
4789 to VXLAN; IPv6 inside IPv4 only once :mod:`scapy.layers.inet6` bound IP protocol 41). So:

* :data:`CORE` is always imported: every layer netlab's labs dissect -- Ethernet, 802.1Q, ARP and GRE
  with its gretap binding (``l2``); IP, IPIP, TCP, UDP, ICMP and its quoted packets (``inet``); IPv6,
  ICMPv6 and IPv6-in-IPv4 (``inet6``); VXLAN (``vxlan``).
* a layer named outside it is looked up in :data:`MODULE_OF`, and that one module is imported (with its
  bindings, so ``DNS.qname`` also makes UDP port 53 dissect as DNS);
* anything else costs ``import scapy.all``, the last resort that keeps every layer scapy has nameable.

The runner calls :func:`preload` before the first probe child is forked (imports happen once, in the
parent, and never inside a probe's time); :class:`netlab.probes.capture.Matcher` calls :func:`layer`.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from netlab.errors import MissingTool

KEY = re.compile(r"^(?P<layer>[A-Za-z][A-Za-z0-9_]*)(\[(?P<nth>[0-9]+)\])?\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)$")
"""A ``match`` key: ``Layer.field``, or ``Layer[n].field`` for the n-th such layer (``IP[2].dst``: the inner one)."""

CORE = ("scapy.layers.l2", "scapy.layers.inet", "scapy.layers.inet6", "scapy.layers.vxlan")
"""Imported for any ``match``: what the catalog's labs dissect (tests/unit/test_probes_layers.py checks that
every layer a catalog topology names is in these modules)."""

LAYERS_OF: dict[str, tuple[str, ...]] = {
    "scapy.layers.dns": ("DNS", "DNSQR", "DNSRR"),
    "scapy.layers.dhcp": ("BOOTP", "DHCP"),
    "scapy.layers.http": ("HTTP", "HTTPRequest", "HTTPResponse"),
    "scapy.layers.ipsec": ("ESP", "AH"),
    "scapy.layers.ppp": ("PPP", "PPPoE", "PPPoED"),
    "scapy.layers.igmp": ("IGMP",),
    "scapy.layers.sctp": ("SCTP",),
    "scapy.layers.ntp": ("NTPHeader",),
    "scapy.layers.snmp": ("SNMP",),
    "scapy.layers.tftp": ("TFTP",),
    "scapy.layers.rip": ("RIP", "RIPEntry"),
    "scapy.layers.vrrp": ("VRRP", "VRRPv3"),
    "scapy.layers.hsrp": ("HSRP",),
    "scapy.layers.l2tp": ("L2TP",),
    "scapy.layers.rtp": ("RTP",),
    "scapy.contrib.mpls": ("MPLS",),  # contrib: not even part of scapy.all
    "scapy.contrib.geneve": ("GENEVE",),
}
"""The layers a lab might name beyond :data:`CORE`, by the one scapy module that defines them."""

MODULE_OF = {name: module for module, names in LAYERS_OF.items() for name in names}
"""Layer name → its module (:data:`LAYERS_OF` turned around)."""

LAST_RESORT = "scapy.all"


def _import(name: str) -> ModuleType:
    """One scapy module, quietly (scapy logs warnings about missing optional tools at import)."""
    import logging  # here: a run without `match` needs neither scapy nor logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingTool(f"scapy cannot be imported in netlab's Python ({sys.executable}): {exc}; capture "
                          "probes dissect packets with it\n    hint: pip install scapy (into the same "
                          "environment as netlab)") from None


def core() -> tuple[ModuleType, ...]:
    """The :data:`CORE` modules, imported (a lookup after the first call)."""
    return tuple(_import(name) for name in CORE)


def _find(modules: Iterable[ModuleType], name: str) -> type[Any] | None:
    packet: type[Any] = _import("scapy.packet").Packet
    for module in modules:
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, packet):
            return cls
    return None


def layer(name: str) -> type[Any]:
    """The scapy layer class called ``name``, its module imported (see the module docstring for which);
    ValueError if scapy has none."""
    found = _find((*core(), _import("scapy.packet")), name)  # scapy.packet: Raw, Padding
    if found is None and name in MODULE_OF:
        try:
            found = _find([importlib.import_module(MODULE_OF[name])], name)
        except ImportError:
            pass  # a scapy without that module: the last resort may still have the layer
    if found is None:
        found = _find([_import(LAST_RESORT)], name)
    if found is None:
        raise ValueError(f"scapy has no layer {name!r}")
    return found


def preload(names: Iterable[str]) -> None:
    """Import what dissecting for these layer names needs, now (before the runner forks any child). Names
    scapy does not know are left for the probe to report."""
    core()
    for name in names:
        try:
            layer(name)
        except ValueError:
            pass
