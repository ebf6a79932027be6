"""``@frozen`` behaves as ``@dataclass(frozen=True)`` does, for what netlab's models use of it."""

from __future__ import annotations

import dataclasses
from dataclasses import field

import pytest

from netlab.core.frozen import frozen


@frozen
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@frozen
class Other:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@frozen
class One:
    name: str


@frozen
class Empty:
    pass


@frozen
class Labelled(Point):
    label: str = "p"


@frozen
class Quiet:
    shown: str
    hidden: dict[str, int] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return self.shown


@frozen
class OwnRepr:
    a: int

    def __repr__(self) -> str:
        return "mine"


@dataclasses.dataclass(frozen=True)
class Reference:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


def test_equality_and_hash_as_the_generated_methods() -> None:
    p, q = Point(1, 2, ("a",)), Point(1, 2, ("a",))
    other: object = Other(1, 2, ("a",))
    assert p == q and hash(p) == hash(q) and p is not q
    assert p != Point(1, 3, ("a",)) and p != Point(2, 2, ("a",))
    assert p != other  # the very same class only, as dataclasses compare
    assert p != Labelled(1, 2, ("a",))  # a subclass with the same values is not equal either
    plain: object = (1, 2, ("a",))
    assert p != plain and p.__eq__(1) is NotImplemented
    assert len({p, q, Point(1, 2, ("a",))}) == 1
    assert One("a") == One("a") and hash(One("a")) == hash(One("a")) and One("a") != One("b")
    assert Empty() == Empty() and hash(Empty()) == hash(Empty())
    assert Labelled(1) == Labelled(1) and Labelled(1) != Labelled(1, label="q")


def test_repr_matches_dataclasses() -> None:
    assert repr(Point(1, 2, ("a",))) == repr(Reference(1, 2, ("a",))).replace("Reference", "Point")
    assert repr(Labelled(1)) == "Labelled(x=1, y=0, tags=(), label='p')"
    assert repr(Quiet("s", {"k": 1})) == "Quiet(shown='s')"  # repr=False honoured
    assert str(Quiet("s")) == "s"
    assert repr(OwnRepr(1)) == "mine"  # a class's own method is kept
    assert repr(Empty()) == "Empty()"


def test_frozen_and_a_standard_dataclass() -> None:
    p = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x
    assert dataclasses.is_dataclass(p)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags"]
    assert dataclasses.replace(p, y=5) == Point(1, 5)
    assert dataclasses.asdict(Labelled(1, tags=("t",))) == {"x": 1, "y": 0, "tags": ("t",), "label": "p"}
    assert Point.__match_args__ == ("x", "y", "tags")
    with pytest.raises(TypeError):
        hash(Quiet("s", {"k": 1}))  # a dict field: unhashable, as with dataclasses


def test_a_field_hashed_but_not_compared_is_refused() -> None:
    with pytest.raises(TypeError, match="not supported"):
        @frozen
        class Odd:
            a: int = field(compare=False, hash=True)
