"""The state's codec: strict both ways, and every refusal names the path of the bad value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from netlab.core.codec import CodecError, from_data, to_data


@dataclass(frozen=True)
class Leaf:
    kind: Literal["a", "b"]
    flag: Literal[True] | int = 0


@dataclass(frozen=True)
class Tree:
    name: str
    leaves: tuple[Leaf, ...]
    pair: tuple[int, str]
    weights: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    extra: object = None


TREE = Tree("t", (Leaf("a"), Leaf("b", True)), (1, "x"), {"w": 0.5}, None, {"any": [1, "json"]})


def test_a_tree_survives_to_data_and_back() -> None:
    data = to_data(TREE)
    assert data == {"name": "t", "leaves": [{"kind": "a", "flag": 0}, {"kind": "b", "flag": True}],
                    "pair": [1, "x"], "weights": {"w": 0.5}, "note": None, "extra": {"any": [1, "json"]}}
    assert from_data(Tree, data) == TREE


def test_an_integer_is_read_as_a_float_but_a_bool_is_not() -> None:
    assert from_data(Tree, {**to_data(TREE), "weights": {"w": 1}}).weights == {"w": 1.0}  # type: ignore[dict-item]
    with pytest.raises(CodecError, match=r"^weights\.w: expected float, got True$"):
        from_data(Tree, {**to_data(TREE), "weights": {"w": True}})  # type: ignore[dict-item]


@pytest.mark.parametrize(("change", "said"), [
    ({"leaves": [{"kind": "c"}]}, "leaves[0].kind: 'c' is not one of ('a', 'b')"),
    ({"leaves": [{"kind": "a", "flag": 1.5}]}, "leaves[0].flag: 1.5 fits none of"),
    ({"leaves": [{"kind": "a", "flg": 1}]}, "leaves[0]: unknown key(s) ['flg'] for Leaf"),
    ({"leaves": [{}]}, "leaves[0]: Leaf needs 'kind'"),
    ({"pair": [1]}, "pair: expected 2 items, got 1"),
    ({"name": 7}, "name: expected str, got 7"),
    ({"note": ["x"]}, "note: expected str, got ['x']"),
])
def test_a_bad_value_is_refused_with_its_path(change: dict[str, object], said: str) -> None:
    data = {**to_data(TREE), **change}  # type: ignore[dict-item]
    with pytest.raises(CodecError) as caught:
        from_data(Tree, data)
    assert str(caught.value).startswith(said)


@dataclass(frozen=True)
class Switch:
    level: Literal[0, 1]
    on: Literal[True]


def test_a_literal_is_matched_by_type_as_well_as_value() -> None:
    """``True == 1`` in Python: a bool where ``Literal[0, 1]`` is declared is not one of them, nor 1 a True."""
    assert from_data(Switch, {"level": 1, "on": True}) == Switch(1, True)
    with pytest.raises(CodecError, match=r"^level: True is not one of \(0, 1\)$"):
        from_data(Switch, {"level": True, "on": True})
    with pytest.raises(CodecError, match=r"^on: 1 is not one of \(True,\)$"):
        from_data(Switch, {"level": 1, "on": 1})


def test_a_huge_bad_value_is_shortened_in_the_message() -> None:
    with pytest.raises(CodecError) as caught:
        from_data(Tree, {**to_data(TREE), "name": ["x" * 10_000]})  # type: ignore[dict-item]
    assert len(str(caught.value)) < 120 and str(caught.value).endswith("...")


def test_the_top_level_is_named_when_it_is_wrong() -> None:
    with pytest.raises(CodecError, match=r"^the top level: expected an object for Tree, got list$"):
        from_data(Tree, [])


@dataclass(frozen=True)
class _Inner:
    name: str


@dataclass(frozen=True)
class _Outer:
    items: tuple[_Inner, ...]
    note: str | None = None


@dataclass(frozen=True)
class _Renamed:
    ifname: str


@dataclass(frozen=True)
class _Outer2:
    items: tuple[_Renamed, ...]
    note: str | None = None


def test_the_fingerprint_changes_with_any_field_anywhere_and_only_then() -> None:
    """The state records it: a netlab whose resolved lab has one feature more (or a renamed field) refuses
    the other's state instead of half-reading it, without anybody having to remember a version bump."""
    from netlab.core.codec import fingerprint

    assert fingerprint(_Outer) == fingerprint(_Outer)
    assert len(fingerprint(_Outer)) == 12
    assert fingerprint(_Outer) != fingerprint(_Outer2)


def test_a_state_of_another_shape_is_refused_naming_both(tmp_path: Path) -> None:
    import json

    from netlab.stages.record import STATE_VERSION, LabState, OtherStateVersion, state_shape

    state = {"version": STATE_VERSION, "shape": "0123456789ab", "lab": "routed"}
    with pytest.raises(OtherStateVersion, match=rf"state format {STATE_VERSION}/0123456789ab\).*reads state "
                                                rf"format {STATE_VERSION}/{state_shape()}"):
        LabState.from_json(json.dumps(state), tmp_path / "routed.json")


def test_the_codecs_type_hints_are_typing_get_type_hints_for_every_model() -> None:
    """codec._type_hints evaluates each annotation text once per module (speed); for every dataclass in netlab
    whose hints resolve at all, it must give exactly what typing.get_type_hints gives."""
    import dataclasses
    import importlib
    import pkgutil
    import typing

    import netlab
    from netlab.core import codec

    compared = 0
    for info in pkgutil.walk_packages(netlab.__path__, "netlab."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in list(vars(module).values()):
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                try:
                    expected = typing.get_type_hints(value)
                except NameError:  # a name bound later (under TYPE_CHECKING): neither reads it this way
                    continue
                assert codec._type_hints(value) == expected, value
                compared += 1
    assert compared > 100
