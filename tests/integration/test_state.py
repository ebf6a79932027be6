"""The state of a real ``up``: typed when read back, and a state of another format refused by every verb.

Run as root in the test run's private namespaces (``scripts/isolated``), with its own /run/netlab.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from netlab import __version__
from netlab.api import Lab
from netlab.probes.context import LabView
from netlab.stages.record import STATE_VERSION, StateStore
from tests.integration.conftest import REPO, netlab, netns_of

pytestmark = pytest.mark.root

RUN = Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))


def routed_copy(tmp_path: Path, name: str) -> Path:
    text = (REPO / "topologies" / "routed.yml").read_text().replace("name: routed", f"name: {name}", 1)
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    return path


def test_the_state_of_a_lab_that_is_up_reads_back_typed_and_equal(tmp_path: Path) -> None:
    path = routed_copy(tmp_path, "typed")
    up = netlab("up", str(path))
    assert up.returncode == 0, up.stderr
    try:
        raw = json.loads((RUN / "labs" / "typed.json").read_text())
        assert raw["version"] == STATE_VERSION and raw["netlab"] == __version__
        state = StateStore().read("typed")
        assert state is not None and state.status == "up"
        assert state.resolved == Lab.load(path).resolved
        client = state.resolved.node("client")
        assert client.netns == "nl-typed.client" and client.interfaces[0].addresses == ("10.0.1.10/24",)
        assert client.interfaces[0].peer.netns == "nl-typed.router"
        assert {ns.name for ns in state.namespaces} == set(state.resolved.namespaces)
        assert len(state.processes) == 3 and {p.node for p in state.processes} == {"server"}
        view = LabView.from_resolved(state.resolved)
        assert view.netns("server") == "nl-typed.server" and "client-ping" in view.probes
        status = netlab("status", "typed", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["description"] == state.resolved.description
    finally:
        down = netlab("down", "typed")
    assert down.returncode == 0, down.stderr
    assert netns_of("typed") == [] and not (RUN / "labs" / "typed.json").exists()


def test_a_lab_recorded_in_state_format_1_is_refused_by_every_verb_until_clean(tmp_path: Path) -> None:
    """As if the lab had been brought up by the netlab before typed states: nothing acts on its file, each
    verb says which format wrote it and what to do, and ``clean`` removes it with the lab's namespaces."""
    path = routed_copy(tmp_path, "oldfmt")
    assert netlab("up", str(path)).returncode == 0
    state_file = RUN / "labs" / "oldfmt.json"
    data = json.loads(state_file.read_text())
    data["version"] = 1
    del data["netlab"]
    state_file.write_text(json.dumps(data))
    for args in (("status", "oldfmt"), ("down", "oldfmt"), ("up", str(path)), ("probe", "oldfmt"),
                 ("exec", "oldfmt", "client", "--", "true")):
        r = netlab(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr, (args, r.stderr)
        assert f"the state file {state_file} was written by another version of netlab (state format 1)" in r.stderr
        assert "`netlab down oldfmt`" in r.stderr and "`netlab clean`" in r.stderr, (args, r.stderr)
    assert len(netns_of("oldfmt")) == 3, "a state of another format is never acted on"
    listed = netlab("status")
    assert listed.returncode == 0 and "oldfmt" not in listed.stdout
    assert "lab oldfmt has a state file this netlab cannot read" in listed.stderr
    cleaned = netlab("clean", "--json")
    assert cleaned.returncode == 0, cleaned.stderr
    assert str(state_file) in json.loads(cleaned.stdout)["files"]
    assert netns_of("oldfmt") == [] and not state_file.exists()
