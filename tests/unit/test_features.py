"""Feature detection on the machine the tests run on.

The assertions hold on any kernel: they check what every netlab host has (netns, veth, bridge), that each
answer agrees with what the kernel shows elsewhere (``/proc/net/ip_vs``, dependent features), and that
detection leaves the caller's namespace exactly as it was -- never "gre is missing", which is true only here.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import time
from pathlib import Path

import pytest

from netlab.core import catalog
from netlab.kernel import features, prober
from netlab.kernel.features import KNOWN_FEATURES, FeatureStatus, detect, detect_all, detect_many

root = pytest.mark.root
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates a network namespace)")

REQUIRED = [
    "netns", "veth", "bridge", "vxlan", "macvlan", "ipvlan", "gre", "gretap", "ipip", "tunl0", "dummy",
    "vlan", "netem", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh",
    "iptables", "nftables",
    "tool:ip", "tool:iptables", "tool:iptables-restore", "tool:ipvsadm", "tool:tcpdump", "tool:socat",
]  # fmt: skip


def test_known_features_cover_what_labs_need() -> None:
    missing = [name for name in REQUIRED if name not in KNOWN_FEATURES]
    assert missing == []
    assert all(KNOWN_FEATURES[name] for name in KNOWN_FEATURES), "every feature has a description"


def test_feature_modules_name_real_features() -> None:
    assert catalog.module_of("gre") == "ip_gre" and catalog.module_of("ip_gre") == "ip_gre"
    assert catalog.module_of("vlan") == "8021q" and catalog.module_of("netns") is None


def test_every_ipvs_scheduler_the_model_accepts_is_a_catalog_feature() -> None:
    """One list: the IPVS model's Scheduler type, the catalog's schedulers, requirements, doctor and the VM."""
    import typing

    from netlab.features.ipvs.model import Scheduler

    assert set(typing.get_args(Scheduler)) == set(catalog.IPVS_SCHEDULERS)
    for sched in catalog.IPVS_SCHEDULERS:
        assert f"ip_vs_{sched}" in KNOWN_FEATURES and f"ip_vs_{sched}" in catalog.vm_modules()


def test_unknown_feature_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no-such-thing"):
        detect("no-such-thing")


def test_status_is_frozen() -> None:
    status = FeatureStatus("veth", True, "tried", "")
    with pytest.raises(AttributeError):
        status.available = False  # type: ignore[misc]


def test_errno_text_uses_the_kernel_name() -> None:
    assert prober.errno_text(95) == "Operation not supported (EOPNOTSUPP)"
    assert "(ENOENT)" in prober.errno_text(2)


def test_netlink_message_parser() -> None:
    ack = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -95) + b"\0" * 16
    data_msg = struct.pack("=IHHII", 20, 0xA10, 0, 1, 0) + b"\0" * 4
    assert list(prober._netlink_messages(data_msg + ack)) == [(0xA10, 0), (2, -95)]


def test_tools_agree_with_path() -> None:
    for status in detect_many(["tool:ip", "tool:socat", "tool:ipvsadm"]):
        tool = status.name.removeprefix("tool:")
        on_path = shutil.which(tool) or shutil.which(tool, path=features._sbin_path())
        assert status.available == bool(on_path), status
        if not status.available:
            assert "apt-get install" in status.detail


def test_missing_tool_names_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    from netlab.kernel import tools

    monkeypatch.setattr(tools, "sbin_path", lambda: str(tmp_path))
    (status,) = detect_many(["tool:ping"])
    assert not status.available
    assert status.detail == "apt-get install -y iputils-ping"


def test_a_crashing_probe_child_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork copies the patched function: the child dies, the parent says so for every feature."""

    def boom(names: object) -> object:
        raise RuntimeError("simulated")

    monkeypatch.setattr(features, "_child_main", boom)
    result = detect_many(["veth", "gre"])
    assert [s.available for s in result] == [False, False]
    assert all("not tested" in s.how for s in result)


@root
@needs_root
def test_basic_features_are_available() -> None:
    """Every machine netlab supports has these (NOTES section 1); they are also what `up` always needs."""
    result = {s.name: s for s in detect_many(["netns", "veth", "bridge"])}
    for name, status in result.items():
        assert status.available, status
        assert status.how, name


# Loading a tunnel module (which a full kernel does by itself on the first `link add type gre`) makes the
# kernel add these down, unconfigured fallback devices to every namespace, the root one included.
KERNEL_FALLBACK_DEVICES = {"tunl0", "gre0", "gretap0", "erspan0", "ip6gre0", "ip6tnl0", "sit0", "ip_vti0"}


@root
@needs_root
def test_detection_leaves_the_root_namespace_alone() -> None:
    before = {name for _, name in socket.if_nameindex()}
    detect_all()
    after = {name for _, name in socket.if_nameindex()}
    assert before <= after, "nothing disappeared"
    assert after - before <= KERNEL_FALLBACK_DEVICES, "detection created links in the root namespace"


@root
@needs_root
def test_answers_are_consistent_with_the_kernel() -> None:
    result = {s.name: s for s in detect_all()}
    # ip_vs registers /proc/net/ip_vs in every namespace once loaded (detection loads it if it can).
    assert result["ip_vs"].available == Path("/proc/net/ip_vs").exists(), result["ip_vs"]
    for sched in ("rr", "wrr", "lc", "wlc", "sh", "dh"):
        if not result["ip_vs"].available:
            assert not result[f"ip_vs_{sched}"].available
    if result["tunl0"].available:
        assert result["ipip"].available
    if result["gretap"].available:
        assert result["gre"].available
    for status in result.values():
        assert status.how, status.name
        if not status.available and not status.name.startswith("tool:"):
            assert status.detail or "not tested" in status.how, status


@root
@needs_root
def test_unavailable_link_types_say_what_was_tried() -> None:
    for status in detect_many(["gre", "ipip", "dummy", "vlan"]):
        if status.available:
            assert "created" in status.how
        else:
            assert "scratch netns" in status.how and "(" in status.how, status
            assert "netlab vm" in status.detail or "not tested" in status.how


@root
@needs_root
def test_aliases_are_accepted() -> None:
    assert [s.name for s in detect_many(["ip_gre", "8021q", "sch_netem"])] == ["gre", "vlan", "netem"]


@root
@needs_root
def test_detect_all_is_fast() -> None:
    """≈ 0.05 s on the development host once pyroute2 is imported; the bound leaves room for slow CI."""
    import pyroute2  # noqa: F401  -- netlab imports it anyway; not what is measured here

    start = time.perf_counter()
    detect_all()
    assert time.perf_counter() - start < 2.0
