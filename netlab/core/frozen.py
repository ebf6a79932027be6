"""``@frozen``: netlab's typed frozen models -- frozen dataclasses made for a third less.

Why not ``@dataclass(frozen=True)`` itself: on Python 3.11 (Debian 12's) the decorator writes each method
it adds as source text and compiles it -- ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__``, ``__delattr__``, six compilations of about 0.12 ms per class. netlab defines over a hundred
of these models and a command imports 10 to 60 of them, so class creation alone was ≈ 35 ms of ``netlab up``.
Here only what must be made per class is compiled (``__init__`` and the frozen ``__setattr__`` /
``__delattr__``); ``__eq__``, ``__hash__`` and ``__repr__`` are shared functions that read the fields through
an ``operator.attrgetter`` made once per class (C code: comparing and hashing cost what the generated methods
cost). They behave as the generated ones do: equal only to an instance of the very same class with equal
fields, hashed on the fields, ``Name(field=value, ...)``; a method the class defines itself is kept.

Everything else is a standard dataclass: ``dataclasses.fields``, ``replace``, ``asdict`` and the state's
codec (netlab.core.codec) see no difference, and mypy reads ``@frozen`` as ``@dataclass(frozen=True)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

__all__ = ["frozen"]

T = TypeVar("T")

_KEY = "__netlab_fields__"
"""The class attribute holding the attrgetter of the fields that take part in ``==`` and ``hash``."""


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = getattr(self.__class__, _KEY)
    return key(self) == key(other)


def _hash(self: Any) -> int:
    return hash(getattr(self.__class__, _KEY)(self))


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr)
    return f"{self.__class__.__qualname__}({shown})"


def _getter(names: tuple[str, ...]) -> Callable[[Any], Any]:
    if not names:
        return lambda _self: ()
    if len(names) == 1:  # attrgetter of one name returns the bare value: keep it a tuple, as the generated methods do
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return attrgetter(*names)


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True)`` with shared ``__eq__``, ``__hash__`` and ``__repr__`` (see the module)."""
    own = set(vars(cls))
    made = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
    fields = dataclasses.fields(made)  # type: ignore[arg-type]
    if any(f.hash is not None and f.hash != f.compare for f in fields):
        raise TypeError(f"{cls.__qualname__}: a field hashed but not compared (or the reverse) is not supported")
    setattr(made, _KEY, _getter(tuple(f.name for f in fields if f.compare)))
    for name, method in (("__eq__", _eq), ("__hash__", _hash), ("__repr__", _repr)):
        if name not in own:
            setattr(made, name, method)
    return made
