"""Requirement derivation: what a topology needs, without touching the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.errors import InvalidInput
from netlab.model.topology import Topology
from netlab.requirements import derive
from netlab.stages.load import load_text
from netlab.stages.validate import validate


def topo(text: str) -> Topology:
    return validate(load_text(text, "t.yml"))


def test_single_node_needs_only_namespaces() -> None:
    assert [r.feature for r in derive(topo("name: one\nnodes:\n  a: {}\n"))] == ["netns"]


def test_links_need_veth_and_lans_need_bridge() -> None:
    t = topo("name: l\nnodes:\n  a: {}\n  b: {}\nlans:\n  seg:\n    members: [{node: a}, {node: b}]\n")
    reqs = {r.feature: r.reason for r in derive(t)}
    assert set(reqs) == {"netns", "veth", "bridge"}
    assert "seg" in reqs["bridge"]


def test_declared_requirements_are_added_once() -> None:
    t = topo("name: d\nrequires: [ip_vs, bridge]\nnodes:\n  a: {}\n  b: {}\n"
             "lans:\n  seg:\n    members: [{node: a}, {node: b}]\n")
    features = [r.feature for r in derive(t)]
    assert features.count("bridge") == 1 and "ip_vs" in features


def test_unknown_required_feature_is_a_validation_error_with_hint() -> None:
    with pytest.raises(InvalidInput) as exc:
        topo("name: d\nrequires: [ip_vss]\nnodes:\n  a: {}\n")
    (diag,) = exc.value.diagnostics
    assert diag.line == 2 and diag.path == "requires[0]" and diag.hint == "did you mean 'ip_vs'?"


def test_a_yes_is_remembered_until_reboot_and_a_no_is_asked_again(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from netlab import requirements
    from netlab.kernel.features import FeatureStatus

    asked: list[list[str]] = []

    def fake_detect(names: list[str]) -> list[FeatureStatus]:
        asked.append(list(names))
        return [FeatureStatus(n, n != "ip_vs", "tried", "") for n in names]

    monkeypatch.setattr("netlab.kernel.features.detect_many", fake_detect)
    t = topo("name: d\nrequires: [ip_vs]\nnodes:\n  a: {}\n  b: {}\n"
             "lans:\n  seg:\n    members: [{node: a}, {node: b}]\n")
    first = requirements.missing(t, cache_dir=tmp_path)
    second = requirements.missing(t, cache_dir=tmp_path)
    assert [m.requirement.feature for m in first] == [m.requirement.feature for m in second] == ["ip_vs"]
    assert asked[0] == ["netns", "veth", "bridge", "ip_vs"]
    assert asked[1] == ["ip_vs"]  # only the "no" is tried again
