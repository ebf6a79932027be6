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


def _made_by(deco: object) -> list[type]:
    """The same classes made by ``deco`` (``frozen`` or ``dataclass(frozen=True)``): the cases ``__init__`` covers."""
    def made(cls: type) -> type:
        return deco(cls)  # type: ignore[operator,no-any-return]

    class Plain:
        a: int
        b: str = "b"
        c: list[int] = field(default_factory=list)

    class Hidden:
        a: int
        d: int = field(default=7, init=False)
        e: list[int] = field(default_factory=lambda: [1], init=False)

    class Head:
        a: int
        b: int = 2

    head = made(Head)
    tail = type("Tail", (head,), {"__annotations__": {"c": "int", "d": "int"}, "c": field(kw_only=True),
                                  "d": field(default=4, kw_only=True), "__module__": __name__})
    return [made(Plain), made(Hidden), head, made(tail)]


def test_init_as_dataclasses_writes_it() -> None:
    """Same parameters, defaults, factories (a new object each time), init=False fields, keyword-only fields,
    the same errors for a missing, extra or positional-only-by-mistake argument."""
    ours, theirs = _made_by(frozen), _made_by(dataclasses.dataclass(frozen=True))
    cases: list[tuple[tuple[object, ...], dict[str, object]]] = [
        ((1,), {}), ((1, "x"), {}), ((1,), {"b": "y", "c": [2]}), ((), {}), ((1, "x", [3], 4), {}), ((), {"z": 1}),
        ((1, 2), {"c": 3}), ((1,), {"c": 3, "d": 5}), ((1, 2, 3), {}),
    ]
    for mine, ref in zip(ours, theirs, strict=True):
        for args, kwargs in cases:
            try:
                expected: object = dataclasses.asdict(ref(*args, **kwargs))
            except TypeError:
                expected = TypeError
            try:
                got: object = dataclasses.asdict(mine(*args, **kwargs))
            except TypeError:
                got = TypeError
            assert got == expected, (mine.__name__, args, kwargs)
    plain = ours[0]
    assert plain(1).c is not plain(1).c  # the factory called per instance
    assert ours[1](1).e == [1] and ours[1](1).d == 7


def test_init_is_compiled_at_the_first_instance_only() -> None:
    @frozen
    class Late:
        a: int
        b: int = 1

    lazy = Late.__init__
    assert Late(3) == Late(3, 1)
    assert Late.__init__ is not lazy and Late.__init__.__qualname__.endswith("Late.__init__")
    assert Late(b=2, a=5).b == 2


def test_order_and_setattr_checked_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @frozen
        class Bad:
            a: int = 1
            b: int  # type: ignore[misc]
    with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__"):
        @frozen
        class Mutable:
            a: int

            def __setattr__(self, name: str, value: object) -> None: ...


def test_a_plain_subclass_may_set_its_own_attributes_not_the_fields() -> None:
    """As with dataclasses: only a frozen class's own instances refuse every name."""
    class Loose(Point):
        pass

    loose = Loose(1)
    loose.extra = 5  # type: ignore[attr-defined]
    assert loose.extra == 5  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        loose.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).extra = 5  # type: ignore[attr-defined]
    ref = Reference(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.extra = 5  # type: ignore[attr-defined]


def test_an_undocumented_class_is_documented_by_its_fields() -> None:
    """As dataclasses do (``Name(field: type, ...)``), without asking inspect for the signature of object."""
    @frozen
    class Bare:
        a: int
        b: str = "x"
        c: list[int] = field(default_factory=list)

    assert Bare.__doc__ == "Bare(a: 'int', b: 'str' = 'x', c: 'list[int]' = <factory>)"  # postponed annotations
    plain = frozen(type("Plain", (), {"__annotations__": {"a": int}, "__module__": __name__}))
    assert plain.__doc__ == "Plain(a: int)"
    assert Point.__doc__ == Reference.__doc__.replace("Reference", "Point")  # type: ignore[union-attr]
