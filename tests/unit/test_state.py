"""The state file: typed both ways, its format version checked, and every way of being unreadable a TornState.

A renamed field of the resolved lab used to pass every test and then raise ``KeyError`` in ``netlab probe``;
these tests read states written with today's field names (the golden resolved labs) through the same path
``probe``, ``status`` and ``down`` take, so such a rename fails here, naming the path of the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netlab import __version__, catalog
from netlab.api import Lab
from netlab.core.codec import from_data
from netlab.model.resolved import ResolvedLab
from netlab.probes.context import LabView
from netlab.stages.record import (
    STATE_VERSION,
    LabHead,
    LabState,
    OtherStateVersion,
    StateStore,
    TornState,
    new_state,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "resolved"


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "run")


def state_of(lab: str) -> LabState:
    return new_state(Lab.load(lab).resolved, "0" * 64, "abcd1234")


def write_raw(store: StateStore, lab: str, data: object) -> Path:
    """A state file as someone else wrote it: any JSON, placed where ``lab``'s state belongs."""
    store.labs_dir.mkdir(parents=True, exist_ok=True)
    path = store.path(lab)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def document(lab: str) -> dict[str, object]:
    """The state of catalog lab ``lab`` as the JSON object this netlab writes."""
    data: dict[str, object] = json.loads(state_of(lab).to_json())
    return data


def format_1(lab: str) -> dict[str, object]:
    """What netlab wrote before typed states: ``version: 1``, no writer, the resolved lab as ``asdict``
    (which JSON renders like ``to_data``)."""
    data = document(lab)
    data["version"] = 1
    del data["netlab"]
    return data


def golden_state(name: str) -> dict[str, object]:
    """A current-format state whose resolved lab is the golden file's (today's field names, committed)."""
    resolved = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    data = document(name)
    data["resolved"] = resolved
    return data


# ---------------------------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("lab", catalog.names())
def test_the_state_of_every_catalog_lab_reads_back_equal_to_what_was_written(lab: str) -> None:
    state = state_of(lab)
    assert LabState.from_json(state.to_json(), Path("x.json")) == state


def test_a_state_file_names_its_format_version_and_the_netlab_that_wrote_it() -> None:
    data = document("routed")
    assert data["version"] == STATE_VERSION == 4
    assert data["netlab"] == __version__
    assert next(iter(data)) == "version"


def test_down_reads_the_head_alone_and_checks_it_like_the_whole(store: StateStore) -> None:
    """``down`` reads the state's head (no resolved lab, no model imported); the head is checked like the whole:
    its own fingerprint, names recomputed."""
    state = state_of("dr-mode")
    store.write(state)
    head = store.read_head("dr-mode")
    assert isinstance(head, LabHead) and not isinstance(head, LabState)
    assert (head.lab, head.run, head.namespaces, head.processes) == (state.lab, state.run, state.namespaces,
                                                                     state.processes)
    data = json.loads(state.to_json())
    data["resolved"] = {"damaged": True}  # a torn resolved part does not keep down from removing the lab
    write_raw(store, "dr-mode", data)
    assert store.read_head("dr-mode") == head
    with pytest.raises(TornState):
        store.read("dr-mode")
    forged = document("dr-mode")
    forged["namespaces"][0]["name"] = "victim"  # type: ignore[index]
    write_raw(store, "dr-mode", forged)
    with pytest.raises(TornState, match="not the one netlab derives"):
        store.read_head("dr-mode")
    write_raw(store, "dr-mode", {**document("dr-mode"), "head": "0123456789ab"})
    with pytest.raises(OtherStateVersion):
        store.read_head("dr-mode")


def test_a_stored_state_is_read_back_typed(store: StateStore) -> None:
    state = state_of("gre-tunnel")
    store.write(state)
    back = store.read("gre-tunnel")
    assert back == state
    assert back is not None and isinstance(back.resolved, ResolvedLab)
    assert back.resolved.overlay.tunnels[0].ends[0].ifname == "gre1"


# ------------------------------------------------------------------------------ renames (the golden states)

@pytest.mark.parametrize("lab", sorted(p.stem for p in GOLDEN.glob("*.json")))
def test_a_state_written_with_the_golden_field_names_is_read_and_probed_typed(store: StateStore, lab: str) -> None:
    """The golden resolved labs hold the field names of their commit: renaming a field of the resolved lab
    (``ResolvedTunnelEnd.ifname``, say) makes this read a TornState naming where, not a probe's KeyError."""
    write_raw(store, lab, golden_state(lab))
    state = store.read(lab)
    assert state is not None
    golden = from_data(ResolvedLab, json.loads((GOLDEN / f"{lab}.json").read_text(encoding="utf-8")))
    assert state.resolved == golden
    view = LabView.from_resolved(state.resolved)
    assert sorted(view.nodes) == sorted(n.name for n in golden.nodes)
    for tunnel in golden.overlay.tunnels:
        for end in tunnel.ends:
            assert end.ifname in dict(view.nodes[end.node].interfaces), "probes must see the tunnel interface"


def test_a_renamed_field_of_the_resolved_lab_is_a_torn_state_naming_its_path(store: StateStore) -> None:
    """The mirror image of renaming ``ResolvedTunnelEnd.ifname`` in the code: the file holds a key the type
    does not have."""
    data = golden_state("gre-tunnel")
    end = data["resolved"]["overlay"]["tunnels"][0]["ends"][0]  # type: ignore[index]
    end["tunnel_ifname"] = end.pop("ifname")
    path = write_raw(store, "gre-tunnel", data)
    with pytest.raises(TornState) as caught:
        store.read("gre-tunnel")
    message = str(caught.value)
    assert str(path) in message and "netlab clean" in message
    assert "resolved.overlay.tunnels[0].ends[0]: unknown key(s) ['tunnel_ifname'] for ResolvedTunnelEnd" in message


@pytest.mark.parametrize(("where", "value", "said"), [
    (("nodes", 0, "interfaces", 0, "index"), "7", "resolved.nodes[0].interfaces[0].index: expected int, got '7'"),
    (("nodes", 0, "routes"), None, "resolved.nodes[0].routes: expected a list, got NoneType"),
    (("ipv6",), 1, "resolved.ipv6: expected bool, got 1"),
])
def test_a_value_of_the_wrong_type_is_a_torn_state_naming_its_path(
        store: StateStore, where: tuple[str | int, ...], value: object, said: str) -> None:
    data = document("routed")
    target: object = data["resolved"]
    for key in where[:-1]:
        target = target[key]  # type: ignore[index]
    target[where[-1]] = value  # type: ignore[index]
    write_raw(store, "routed", data)
    with pytest.raises(TornState, match=r"is damaged") as caught:
        store.read("routed")
    assert said in str(caught.value)


# ------------------------------------------------------------------------------------------------ versions

def test_a_state_of_format_1_is_refused_with_who_wrote_it_and_what_to_do(store: StateStore) -> None:
    path = write_raw(store, "routed", format_1("routed"))
    with pytest.raises(OtherStateVersion) as caught:
        store.read("routed")
    error = caught.value
    assert isinstance(error, TornState) and error.exit_code == 1 and error.version == 1
    message = str(error)
    assert f"the state file {path} was written by another version of netlab (state format 1)" in message
    assert f"this netlab ({__version__}) reads state format {STATE_VERSION}" in message
    assert "`netlab down routed`" in message and "the netlab that brought it up" in message
    assert "`netlab clean`" in message and "damaged" not in message


def test_a_state_from_a_newer_netlab_names_that_netlab(store: StateStore) -> None:
    data = {**document("routed"), "version": STATE_VERSION + 1, "netlab": "0.7.2", "something_new": [1, 2]}
    write_raw(store, "routed", data)
    with pytest.raises(OtherStateVersion, match=rf"written by netlab 0\.7\.2 \(state format {STATE_VERSION + 1}\)"):
        store.read("routed")


def test_a_writer_that_is_not_a_version_string_is_not_repeated(store: StateStore) -> None:
    write_raw(store, "routed", {**format_1("routed"), "netlab": "\x1b]0;owned\x07"})
    with pytest.raises(OtherStateVersion) as caught:
        store.read("routed")
    assert "\x1b" not in str(caught.value) and "another version of netlab" in str(caught.value)


@pytest.mark.parametrize("version", [None, "2", 2.0, True])
def test_a_state_without_an_integer_version_is_damaged(store: StateStore, version: object) -> None:
    data = document("routed")
    if version is None:
        del data["version"]
    else:
        data["version"] = version
    write_raw(store, "routed", data)
    with pytest.raises(TornState, match="it has no state format version") as caught:
        store.read("routed")
    assert not isinstance(caught.value, OtherStateVersion)


def test_a_state_of_another_version_is_not_live_and_is_listed_for_clean(store: StateStore) -> None:
    store.write(state_of("lan"))
    write_raw(store, "routed", format_1("routed"))
    assert [s.lab for s in store.all()] == ["lan"]
    assert store.torn() == ["routed"]


# ----------------------------------------------------------------------------- the resolved lab is checked

def test_a_resolved_lab_of_another_name_is_refused(store: StateStore) -> None:
    data = document("routed")
    data["resolved"]["name"] = "lan"  # type: ignore[index]
    write_raw(store, "routed", data)
    with pytest.raises(TornState, match="its resolved lab is 'lan'"):
        store.read("routed")


def test_a_forged_namespace_in_the_resolved_lab_is_refused(store: StateStore) -> None:
    """Probes enter the namespaces the resolved lab names: they are recomputed like the records'."""
    data = document("routed")
    data["resolved"]["nodes"][0]["netns"] = "../../../tmp/x"  # type: ignore[index]
    write_raw(store, "routed", data)
    with pytest.raises(TornState, match=r"resolved namespace '\.\./\.\./\.\./tmp/x' is not the one netlab derives"):
        store.read("routed")


def test_a_resolved_lab_with_a_node_the_records_lack_is_refused(store: StateStore) -> None:
    data = document("routed")
    data["namespaces"] = data["namespaces"][:-1]  # type: ignore[index]
    write_raw(store, "routed", data)
    with pytest.raises(TornState, match="do not name the same namespaces"):
        store.read("routed")


@pytest.mark.parametrize("text", ["[" * 100_000, '{"lab": "routed", "run"', "[]", "null"])
def test_text_that_is_not_a_state_object_is_damaged_not_a_traceback(store: StateStore, text: str) -> None:
    store.labs_dir.mkdir(parents=True, exist_ok=True)
    store.path("routed").write_text(text, encoding="utf-8")
    with pytest.raises(TornState):
        store.read("routed")


def test_the_state_is_every_field_encoded_and_the_resolved_lab_is_encoded_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """to_json splices the resolved lab's JSON, encoded once per object (``up`` writes the state twice around the
    same resolved lab): the text is still exactly the whole state's to_data, and another lab is encoded anew."""
    from dataclasses import replace

    from netlab.core import codec
    from netlab.stages import record

    state = state_of("routed")
    whole = json.dumps({"version": STATE_VERSION, "shape": record.state_shape(), "head": record.head_shape(),
                        **codec.to_data(state)}, separators=(",", ":"))  # type: ignore[dict-item]
    assert state.to_json() == whole
    encoded: list[object] = []
    monkeypatch.setattr(record, "to_data", lambda value: encoded.append(value) or codec.to_data(value))
    up = replace(state, status="up")
    assert json.loads(up.to_json()) == {**json.loads(whole), "status": "up"}
    assert state.resolved not in encoded  # the head's fields were encoded, the resolved lab was not
    other = state_of("lan")
    assert json.loads(other.to_json())["resolved"]["name"] == "lan" and other.resolved in encoded
