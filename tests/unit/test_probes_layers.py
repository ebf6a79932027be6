"""The scapy layers capture probes import (netlab.probes.layers): every catalog `match` resolves without
``scapy.all``, frames dissect as deep as with it, and a probe run's setup imports no more than it needs.

What is imported is a property of a fresh interpreter (this one has imported scapy.all as soon as any test
did), so those checks run in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from netlab import catalog
from netlab.probes import layers
from netlab.probes.model import PROBE_KINDS
from netlab.probes.runner import KINDS, kind_runner
from tests.helpers import catalog_copy

pytest.importorskip("scapy")


def fresh(code: str) -> Any:
    """Run ``code`` in a new interpreter; what it prints last, as JSON."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def catalog_match_keys() -> dict[str, list[str]]:
    """Every `match` key of every catalog topology → the labs that use it."""
    keys: dict[str, list[str]] = {}
    for name in catalog.names():
        path = catalog.find(name)
        assert path is not None
        for probe in (yaml.safe_load(path.read_text()) or {}).get("probes") or ():
            for key in probe.get("match") or {}:
                keys.setdefault(key, []).append(name)
    return keys


def test_the_catalog_names_layers_at_all() -> None:
    layer_names = {m["layer"] for key in catalog_match_keys() if (m := layers.KEY.match(key))}
    assert {"IP", "Ether", "ARP", "GRE", "VXLAN", "IPv6"} <= layer_names


def test_every_catalog_match_key_resolves_in_the_core_modules_alone() -> None:
    keys = sorted(catalog_match_keys())
    got = fresh(f"""
        import json, sys
        from netlab.probes.capture import Matcher
        for key in {keys!r}:
            Matcher({{key: 0}})
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("scapy.layers."))))
    """)
    assert set(got) == set(layers.CORE), "a catalog match key needs a module outside CORE"


def test_the_common_layers_beyond_the_catalogs_need_no_scapy_all_either() -> None:
    names = ["TCP", "UDP", "ICMP", "Dot1Q", "ICMPv6EchoRequest", "IPerror", "Raw", "Padding", "CookedLinux"]
    got = fresh(f"""
        import json, sys
        from netlab.probes import layers
        modules = [layers.layer(name).__module__ for name in {names!r}]
        print(json.dumps([modules, "scapy.all" in sys.modules]))
    """)
    assert got[1] is False and set(got[0]) <= {*layers.CORE, "scapy.packet"}


SAMPLE_FRAMES = """
    from scapy.layers.l2 import ARP, GRE, Dot1Q, Ether
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
    from scapy.layers.vxlan import VXLAN
    MAC = "02:00:00:00:00:02"  # given: scapy would otherwise ask the network (ARP) for it
    inner = IP(src="10.1.0.1", dst="10.1.0.2") / TCP(sport=40000, dport=80, flags="S")
    frames = [
        Ether(dst=MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5555, dport=4789) / VXLAN(vni=42)
        / Ether(src="02:00:00:00:00:01", dst=MAC) / inner,
        Ether(dst=MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5555, dport=8472) / VXLAN(vni=7)
        / Ether(dst=MAC) / ARP(op=1, psrc="10.1.0.1", pdst="10.1.0.2"),
        Ether(dst=MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / GRE(key_present=1, key=42) / inner,
        Ether(dst=MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / GRE() / Ether(dst=MAC) / inner,
        Ether(dst=MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / inner,
        Ether(dst=MAC) / IP(src="192.0.2.1", dst="192.0.2.2") / IPv6(src="fd00::1", dst="fd00::2")
        / ICMPv6EchoRequest(),
        Ether(dst=MAC) / IP(src="10.0.1.1", dst="10.0.1.10") / ICMP(type=3, code=0)
        / IP(src="10.0.1.10", dst="10.0.3.1") / ICMP(),
        Ether(dst=MAC) / Dot1Q(vlan=10) / ARP(op=2, psrc="10.0.0.1", hwsrc="02:00:00:00:00:02"),
        Ether(dst=MAC) / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1, dport=2),
    ]
"""


def test_frames_of_netlabs_labs_dissect_as_deep_as_with_scapy_all() -> None:
    lean = fresh(textwrap.dedent(SAMPLE_FRAMES) + textwrap.dedent("""
        import json, sys
        from netlab.probes.capture import Matcher
        m = Matcher({"IP.src": "x"})
        out = [[bytes(f).hex(), m.dissect(bytes(f), 1).summary()] for f in frames]
        assert "scapy.all" not in sys.modules
        print(json.dumps(out))
    """))
    full = fresh(f"""
        import json
        import scapy.all as s
        print(json.dumps([s.Ether(bytes.fromhex(h)).summary() for h, _ in {lean!r}]))
    """)
    assert [summary for _hex, summary in lean] == full
    assert "VXLAN / Ether / IP / TCP" in lean[0][1] and "GRE / IP / TCP" in lean[2][1]


def test_the_inner_packet_of_vxlan_is_reachable_without_scapy_all() -> None:
    got = fresh("""
        import json, sys
        from netlab.probes.capture import Matcher
        from scapy.layers.l2 import Ether
        from scapy.layers.inet import IP, TCP, UDP
        from scapy.layers.vxlan import VXLAN
        outer = Ether(dst="02:00:00:00:00:02") / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(dport=4789)
        inner = Ether(dst="02:00:00:00:00:03") / IP(src="10.1.0.1", dst="10.1.0.2") / TCP()
        m = Matcher({"IP[2].src": "10.1.0.1", "VXLAN.vni": 42, "TCP.dport": 80})
        pkt = m.dissect(bytes(outer / VXLAN(vni=42) / inner), 1)
        print(json.dumps([m.matches(pkt), Matcher({"IP[2].src": "10.1.0.9"}).matches(pkt),
                          "scapy.all" in sys.modules]))
    """)
    assert got == [True, False, False]


def test_a_layer_outside_the_core_imports_its_module_and_an_unknown_one_falls_back_to_scapy_all() -> None:
    got = fresh("""
        import json, sys
        from netlab.probes import layers
        dns = layers.layer("DNS").__module__
        after_dns = "scapy.all" in sys.modules
        try:
            layers.layer("NoSuchLayer")
            error = ""
        except ValueError as exc:
            error = str(exc)
        print(json.dumps([dns, after_dns, error, "scapy.all" in sys.modules]))
    """)
    assert got == ["scapy.layers.dns", False, "scapy has no layer 'NoSuchLayer'", True]


@pytest.mark.parametrize("name", sorted(layers.MODULE_OF))
def test_every_name_in_the_table_is_a_layer_of_its_module(name: str) -> None:
    import importlib

    module = pytest.importorskip(layers.MODULE_OF[name])
    scapy_packet = importlib.import_module("scapy.packet")
    assert issubclass(getattr(module, name), scapy_packet.Packet)


def test_every_probe_kind_has_a_runner() -> None:
    assert set(KINDS) == set(PROBE_KINDS)
    for kind in PROBE_KINDS:
        assert callable(kind_runner(kind))


SETUP = """
    import json, sys
    from netlab.api import Lab
    from netlab.probes.context import LabView
    from netlab.probes.runner import ProbeRunner
    runner = ProbeRunner(LabView.from_resolved(Lab.load({lab!r}).resolved))
    runner.prepare(runner.select({only!r}))
    print(json.dumps(sorted(m for m in sys.modules if m == "scapy" or m.startswith(("scapy.all", "scapy.layers.")))
                     + sorted(m for m in ("netlab.probes.flow", "netlab.probes.counters") if m in sys.modules)))
"""


def test_a_match_on_outer_fields_imports_no_scapy() -> None:
    # routed's capture matches IP.src: netlab.probes.fastmatch reads it from the frame
    assert fresh(SETUP.format(lab="routed", only=None)) == []


def test_a_match_on_an_inner_header_imports_no_scapy() -> None:
    # vxlan-overlay matches VXLAN.vni, IP[2].src and the ARP inside VXLAN: the fast path walks the tunnel headers
    assert fresh(SETUP.format(lab="vxlan-overlay", only=None)) == []


def test_a_match_the_frame_walk_cannot_read_imports_the_core_layers_and_not_scapy_all(tmp_path: Path) -> None:
    # TCP.flags: S is scapy's display form of a flag set: scapy's to judge, with the core layers only
    path = catalog_copy(tmp_path, "routed", "syn-flags", extra_probes="""
  - {name: syn, kind: capture, during: client-to-server, at: "server:eth0", filter: tcp port 7,
     match: {TCP.flags: S}, packets: 1}""")
    assert fresh(SETUP.format(lab=str(path), only=None)) == sorted(["scapy", *layers.CORE])


def test_a_run_without_match_imports_no_scapy_and_only_its_kinds() -> None:
    assert fresh(SETUP.format(lab="routed", only=["client-ping", "through-the-router", "web"])) == []
