"""Requirement derivation: what a topology needs, without touching the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.requirements import derive
from tests.helpers import lan, problems, valid


def test_single_node_needs_only_namespaces() -> None:
    assert [r.feature for r in derive(valid("name: one\nnodes:\n  a: {}\n"))] == ["netns"]


def test_links_need_veth_and_lans_need_bridge() -> None:
    t = valid(lan(["a", "b"], name="l"))
    reqs = {r.feature: r.reason for r in derive(t)}
    assert set(reqs) == {"netns", "veth", "bridge"}
    assert "seg" in reqs["bridge"]


def test_declared_requirements_are_added_once() -> None:
    t = valid(lan(["a", "b"], name="d", head="requires: [ip_vs, bridge]\n"))
    features = [r.feature for r in derive(t)]
    assert features.count("bridge") == 1 and "ip_vs" in features


def test_unknown_required_feature_is_a_validation_error_with_hint() -> None:
    (diag,) = problems("name: d\nrequires: [ip_vss]\nnodes:\n  a: {}\n")
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
    t = valid(lan(["a", "b"], name="d", head="requires: [ip_vs]\n"))
    first = requirements.missing(requirements.derive(t), cache_dir=tmp_path)
    second = requirements.missing(requirements.derive(t), cache_dir=tmp_path)
    assert [m.requirement.feature for m in first] == [m.requirement.feature for m in second] == ["ip_vs"]
    assert asked[0] == ["netns", "veth", "bridge", "ip_vs"]
    assert asked[1] == ["ip_vs"]  # only the "no" is tried again


@pytest.mark.parametrize("scheduler", ["lblc", "lblcr", "mh", "twos"])
def test_every_scheduler_the_model_accepts_is_a_requirement_checked_before_up(scheduler: str) -> None:
    """``scheduler: lblc`` used to pass unchecked: requirements knew 6 of the 14 schedulers. Now each is a
    requirement of its own, refused (exit 4) on a kernel without its module before anything is created."""
    from netlab.core.catalog import IPVS_SCHEDULERS

    text = (Path(__file__).parents[2] / "topologies" / "ipvs-nat.yml").read_text()
    text = text.replace("scheduler: rr", f"scheduler: {scheduler}")
    assert scheduler in IPVS_SCHEDULERS
    features = {r.feature: r.reason for r in derive(valid(text))}
    assert f"ip_vs_{scheduler}" in features
    assert f"uses the {scheduler} scheduler" in features[f"ip_vs_{scheduler}"]
