"""Kubernetes as the kernel sees it (catalog labs k8s-*): every probe passes, and a claim turned false fails the
probe that backs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import catalog_copy, run_copy, running

pytestmark = [pytest.mark.root]


def test_k8s_pod_passes_with_netlab_run(tmp_path: Path) -> None:
    run_copy(tmp_path, "k8s-pod", "k8s-pod-run", probes=7)


def test_a_sidecar_on_every_address_is_reached_from_another_pod(tmp_path: Path) -> None:
    """Bound to 0.0.0.0 instead of 127.0.0.1, the sidecar answers on the pod's address too: exactly the probe
    that says it cannot fails, naming what it saw."""
    path = catalog_copy(tmp_path, "k8s-pod", "k8s-pod-open")
    path.write_text(path.read_text().replace("address: 127.0.0.1, port: 7", "address: 0.0.0.0, port: 7"))
    with running(path) as lab:
        failed = {r.name: r for r in lab.probes().failed}
    assert sorted(failed) == ["sidecar-not-on-pod-ip"], [str(r) for r in failed.values()]
    assert "32 random bytes came back intact from 10.244.1.2:7" in failed["sidecar-not-on-pod-ip"].observed


def test_k8s_networkpolicy_passes_and_without_the_deny_the_denied_pod_gets_in(tmp_path: Path) -> None:
    run_copy(tmp_path, "k8s-networkpolicy", "k8s-np-run", probes=6)
    open_path = catalog_copy(tmp_path, "k8s-networkpolicy", "k8s-np-open")
    open_path.write_text(open_path.read_text().replace('"-A KUBE-NWPLCY-DB-INGRESS -j DROP"',
                                                       '"-A KUBE-NWPLCY-DB-INGRESS"'))  # counts, drops nothing
    with running(open_path) as lab:
        failed = {r.name: r for r in lab.probes().failed}
    assert sorted(failed) == ["other-denied", "other-ping"], [str(r) for r in failed.values()]
    assert "HTTP 200" in failed["other-denied"].observed


@pytest.mark.kernel("ip_vs", "ip_vs_rr", "iptables")
def test_k8s_service_clusterip_nodeport_and_the_masquerade_mark(tmp_path: Path) -> None:
    """kube-proxy's IPVS mode rebuilt: every probe passes; without the mark rule, NodePort traffic arrives at the
    pod from ext's own address and the masquerade probes fail."""
    run_copy(tmp_path, "k8s-service", "k8s-svc-run", probes=8)
    unmarked = catalog_copy(tmp_path, "k8s-service", "k8s-svc-nomark")
    unmarked.write_text(unmarked.read_text().replace('"-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"',
                                                     '"-A KUBE-MARK-MASQ"'))  # counts, marks nothing
    with running(unmarked) as lab:
        failed = {r.name for r in lab.probes().failed}
    assert {"nodeport-masqueraded", "masquerade-counted"} <= failed, failed
