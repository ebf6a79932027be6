"""``@frozen``: netlab's typed frozen models -- frozen dataclasses made for a tenth of the cost.

Why not ``@dataclass(frozen=True)`` itself: on Python 3.11 (Debian 12's) the decorator writes each method
it adds as source text and compiles it -- ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__``, ``__delattr__`` -- about 1 ms per class. netlab defines over a hundred of these models, a command
imports 10 to 80 of them and makes instances of under half (a cached ``netlab up routed``: 55 classes, 24 used).
Here nothing is compiled when the class is made:

* ``__eq__``, ``__hash__`` and ``__repr__`` are shared functions that read the fields through an
  ``operator.attrgetter`` made once per class (C code: comparing and hashing cost what the generated methods
  cost). They behave as the generated ones do: equal only to an instance of the very same class with equal
  fields, hashed on the fields, ``Name(field=value, ...)``; a method the class defines itself is kept.
* ``__setattr__`` and ``__delattr__`` are shared too: they raise ``FrozenInstanceError`` for a field, and for any
  name on an instance of a ``@frozen`` class itself -- what the generated ones do.
* ``__init__`` is the one dataclasses would write (same parameters, defaults, factories, keyword-only fields,
  the same check of their order when the class is made), compiled the first time the class makes an instance:
  a class never instantiated never pays for it.

Everything else is a standard dataclass: ``dataclasses.fields``, ``replace``, ``asdict`` and the state's
codec (netlab.core.codec) see no difference, and mypy reads ``@frozen`` as ``@dataclass(frozen=True)``.
(``__dataclass_params__.frozen`` says False: dataclasses made no frozen methods; netlab installed its own.)
"""

from __future__ import annotations

import dataclasses  # without inspect (the package's __init__ imported it first: netlab.core.lazy)
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


def _frozen(self: Any, name: str) -> bool:
    """Whether ``name`` is frozen on ``self``: any name on an instance of a ``@frozen`` class itself, a field on an
    instance of a plain subclass (which may set its own attributes), as dataclasses decide."""
    cls = self.__class__
    return _KEY in cls.__dict__ or name in cls.__dataclass_fields__


def _setattr(self: Any, name: str, value: Any) -> None:
    if _frozen(self, name):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _delattr(self: Any, name: str) -> None:
    if _frozen(self, name):
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


_FACTORY = object()
"""The default of a parameter whose field has a default factory: "not given, call the factory"."""


def _compile_init(cls: type) -> Callable[..., None]:
    """The ``__init__`` dataclasses writes for a frozen class: fields set through ``object.__setattr__``."""
    names: dict[str, Any] = {"__nl_set": object.__setattr__, "__nl_factory": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        value = f.name
        if f.default is not dataclasses.MISSING:
            names[f"__nl_d_{f.name}"] = f.default
            default, value = f"=__nl_d_{f.name}", (value if f.init else f"__nl_d_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"__nl_f_{f.name}"] = f.default_factory
            default = "=__nl_factory"
            value = f"__nl_f_{f.name}() if {f.name} is __nl_factory else {f.name}" if f.init else f"__nl_f_{f.name}()"
        elif not f.init:
            continue  # no default and not in __init__: left unset, as dataclasses does
        else:
            default = ""
        if f.init:
            (keyword if f.kw_only else positional).append(f.name + default)
        body.append(f"__nl_set(self, {f.name!r}, {value})")
    params = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    text = f"def __init__({params}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
    exec(text, names)  # the text is made of field names, which Python accepted as identifiers in the class
    init: Callable[..., None] = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _lazy_init(cls: type) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = _compile_init(cls)
        cls.__init__ = init  # type: ignore[misc]  # from now on the compiled one is called directly
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _param(f: dataclasses.Field[Any]) -> str:
    """A field as the signature in a dataclass's default docstring shows it (the annotation as written)."""
    kind = repr(f.type) if isinstance(f.type, str) else (  # a string (netlab's: postponed annotations) quoted
        f.type.__qualname__ if isinstance(f.type, type) and f.type.__module__ == "builtins" else repr(f.type))
    default = "" if not _has_default(f) else (
        f" = {f.default!r}" if f.default is not dataclasses.MISSING else " = <factory>")
    return f"{f.name}: {kind}{default}"


def _check_fields(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    """What dataclasses checks while it writes ``__init__``, checked when the class is made."""
    seen_default = False
    for f in fields:
        if not f.init or f.kw_only:
            continue
        if _has_default(f):
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__qualname__}: non-default argument {f.name!r} follows default argument")
    if any(f.name == "self" for f in fields):
        raise TypeError(f"{cls.__qualname__}: a field named 'self' is not supported")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True)``, nothing compiled until the first instance (see the module)."""
    own = set(vars(cls))
    undocumented = not cls.__doc__
    if undocumented:  # dataclasses would document it by the signature of __init__ -- object's here, which
        cls.__doc__ = "-"  # inspect parses with tokenize (its regexes compiled: ≈ 3 ms); written below instead
    made = dataclasses.dataclass(init=False, eq=False, repr=False)(cls)
    fields = dataclasses.fields(made)  # type: ignore[arg-type]
    if any(f.hash is not None and f.hash != f.compare for f in fields):
        raise TypeError(f"{cls.__qualname__}: a field hashed but not compared (or the reverse) is not supported")
    for name in ("__setattr__", "__delattr__"):
        if name in own:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    _check_fields(made, fields)
    if undocumented:
        made.__doc__ = f"{cls.__name__}({', '.join(_param(f) for f in fields if f.init)})"
    setattr(made, _KEY, _getter(tuple(f.name for f in fields if f.compare)))
    made.__setattr__ = _setattr  # type: ignore[method-assign]
    made.__delattr__ = _delattr  # type: ignore[method-assign]
    for name, method in (("__eq__", _eq), ("__hash__", _hash), ("__repr__", _repr)):
        if name not in own:
            setattr(made, name, method)
    if "__init__" not in own:
        setattr(made, "__init__", _lazy_init(made))  # noqa: B010 -- mypy refuses assigning a method
    return made
