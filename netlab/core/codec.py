"""Frozen dataclasses to JSON-ready data and back, driven by their type annotations: the state's codec.

Why not ``asdict`` and dict lookups: the state file used to hold ``asdict(resolved)`` and be read back by
key in three places, so renaming a field of the resolved lab passed every unit test and then broke
``netlab probe`` with a ``KeyError``. Here the same types write and read the state: a renamed or retyped
field is a mismatch the golden state tests and mypy see, and a file written by another version is refused
with a clear error instead of half-read.

Strict both ways: an unknown key, a missing key without a default, or a value of the wrong type raises
:class:`CodecError` naming the path of the bad value (``nodes[2].interfaces[0].index``). Supported types:
dataclasses, ``tuple[X, ...]`` and fixed tuples, ``dict[str, X]``, ``X | None``, ``Literal``, ``str``,
``int``, ``float``, ``bool``, and ``object`` (plain JSON passed through, as for the recorded probes).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from typing import Any, TypeVar, Union, get_args, get_origin

__all__ = ["CodecError", "from_data", "to_data"]

T = TypeVar("T")


class CodecError(ValueError):
    """Data that does not fit the type it is read as; the message names where."""


_EVALUATED: dict[tuple[str, str], Any] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)`` for netlab's models, each annotation text evaluated once per module.

    Why not get_type_hints itself: it compiles every string annotation of every class anew (``str``, ``int``,
    ``tuple[str, ...]`` hundreds of times): ≈ 5 ms of a cached ``netlab up``. Like it, the base classes'
    annotations come first and each is evaluated in its own module's namespace; ``None`` becomes NoneType."""
    hints: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        # its own annotations, not inherited ones, read as inspect.get_annotations reads a class's: importing
        # inspect costs ≈ 14 ms of every command (netlab.core.lazy); 3.14's deferred annotations still get it
        annotations = base.__dict__.get("__annotations__")  # noqa: RUF063
        if annotations is None and "__annotate__" in base.__dict__:
            import inspect

            annotations = inspect.get_annotations(base)
        annotations = annotations or {}
        namespace = vars(sys.modules[base.__module__])
        for name, value in annotations.items():
            if isinstance(value, str):
                key = (base.__module__, value)
                if key not in _EVALUATED:
                    _EVALUATED[key] = eval(value, namespace)  # our own modules' annotation text, as get_type_hints
                value = _EVALUATED[key]
            hints[name] = type(None) if value is None else value
    return hints


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type, has a default) of each init field of dataclass ``cls``."""
    hints = _type_hints(cls)
    return tuple((f.name, hints[f.name], f.default is not dataclasses.MISSING
                  or f.default_factory is not dataclasses.MISSING)
                 for f in dataclasses.fields(cls) if f.init)


_PLAIN = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _names(cls: type) -> tuple[str, ...] | None:
    """The init fields' names of dataclass ``cls`` (None: not a dataclass) -- what to_data writes, without the
    type hints (evaluating them is what reading needs, and costs)."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def to_data(value: object) -> object:
    """Plain data (dicts, lists, str, int, float, bool, None) for a dataclass tree.

    Dispatch on the exact type first: at 1000 nodes this runs ≈ 70,000 times, and ``is_dataclass`` on each
    value was half of writing a state."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is tuple or kind is list:
        return [to_data(v) for v in value]  # type: ignore[attr-defined]
    if kind is dict:
        return {str(k): to_data(v) for k, v in value.items()}  # type: ignore[attr-defined]
    names = _names(typing.cast(Any, kind))
    if names is not None:
        return {name: to_data(getattr(value, name)) for name in names}
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


def _where(path: str) -> str:
    return path or "the top level"


def _short(data: object) -> str:
    """A bad value as a message shows it: a state file is untrusted and may hold a megabyte where a number
    belongs, and the path already says where."""
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."


class _Bad(Exception):
    """A refusal on its way up: ``parts`` gathers the path (innermost first) only when something is wrong, so
    reading a good value formats no path at all."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.parts: list[str] = []


def _path(parts: list[str], prefix: str) -> str:
    path = prefix
    for part in reversed(parts):
        path = path + part if part.startswith("[") or not path else f"{path}.{part}"
    return path


def from_data(cls: type[T], data: object, path: str = "") -> T:
    """Build a ``cls`` from plain data, checking every value against its annotation."""
    try:
        return typing.cast(T, _reader(typing.cast(Any, cls))(data))
    except _Bad as bad:
        raise CodecError(f"{_where(_path(bad.parts, path))}: {bad.message}") from None


Reader = typing.Callable[[object], object]


@functools.cache
def _reader(tp: Any) -> Reader:
    """The function that reads data of type ``tp``, made once per type: at 1000 nodes a state or a cached plan
    holds ≈ 100,000 values, and dispatching on the annotation for each one (the first version) took as long
    as validating the topology from scratch."""
    if tp is object or tp is Any:
        return _identity
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _union(tp)
    if origin is typing.Literal:
        return _literal(get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return _tuple_of(_reader(args[0]))
        return _fixed_tuple(tuple(_reader(a) for a in args))
    if origin is dict:
        return _dict_of(_reader(get_args(tp)[1]))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if tp is float:
        return _float
    if tp in (str, int, bool):
        return _exactly(tp)
    raise TypeError(f"the codec cannot read {tp!r}")


def _identity(data: object) -> object:
    return data


def _exactly(tp: type) -> Reader:
    def read(data: object) -> object:
        if type(data) is tp:
            return data
        raise _Bad(f"expected {tp.__name__}, got {_short(data)}")
    return read


def _float(data: object) -> object:
    if isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    raise _Bad(f"expected float, got {_short(data)}")


def _union(tp: Any) -> Reader:
    args = get_args(tp)
    optional = type(None) in args
    arms = [_reader(a) for a in args if a is not type(None)]

    def read(data: object) -> object:
        if data is None and optional:
            return None
        errors: list[_Bad] = []
        for arm in arms:
            try:
                return arm(data)
            except _Bad as bad:
                errors.append(bad)
        if len(errors) == 1:
            raise errors[0]
        raise _Bad(f"{_short(data)} fits none of {tp}")
    return read


def _literal(choices: tuple[object, ...]) -> Reader:
    def read(data: object) -> object:
        # by type too: ``True in (1,)`` and ``1 in (True,)`` are both true in Python
        if any(type(data) is type(choice) and data == choice for choice in choices):
            return data
        raise _Bad(f"{_short(data)} is not one of {choices}")
    return read


def _tuple_of(item: Reader) -> Reader:
    def read(data: object) -> object:
        if not isinstance(data, list | tuple):
            raise _Bad(f"expected a list, got {type(data).__name__}")
        out: list[object] = []
        for value in data:
            try:  # free when nothing is raised (Python 3.11's exceptions cost only when they happen)
                out.append(item(value))
            except _Bad as bad:
                bad.parts.append(f"[{len(out)}]")
                raise
        return tuple(out)
    return read


def _fixed_tuple(items: tuple[Reader, ...]) -> Reader:
    def read(data: object) -> object:
        if not isinstance(data, list | tuple):
            raise _Bad(f"expected a list, got {type(data).__name__}")
        if len(items) != len(data):
            raise _Bad(f"expected {len(items)} items, got {len(data)}")
        out = []
        for i, (item, value) in enumerate(zip(items, data, strict=True)):
            try:
                out.append(item(value))
            except _Bad as bad:
                bad.parts.append(f"[{i}]")
                raise
        return tuple(out)
    return read


def _dict_of(value_reader: Reader) -> Reader:
    def read(data: object) -> object:
        if not isinstance(data, dict):
            raise _Bad(f"expected an object, got {type(data).__name__}")
        out = {}
        for key, value in data.items():
            try:
                out[str(key)] = value_reader(value)
            except _Bad as bad:
                bad.parts.append(str(key))
                raise
        return out
    return read


def _dataclass(cls: type) -> Reader:
    fields: list[tuple[str, Reader, bool]] = []
    names: frozenset[str] = frozenset()

    def read(data: object) -> object:
        if not fields:  # resolved on first use: a dataclass may refer to itself, or to one defined after it
            fields.extend((name, _reader(tp), has_default) for name, tp, has_default in _fields(cls))
            nonlocal names
            names = frozenset(name for name, _, _ in fields)
        if not isinstance(data, dict):
            raise _Bad(f"expected an object for {cls.__name__}, got {type(data).__name__}")
        if not names.issuperset(data):
            raise _Bad(f"unknown key(s) {_short(sorted(map(str, set(data) - names)))} for {cls.__name__}")
        kwargs = {}
        for name, reader, has_default in fields:
            if name in data:
                try:
                    kwargs[name] = reader(data[name])
                except _Bad as bad:
                    bad.parts.append(name)
                    raise
            elif not has_default:
                raise _Bad(f"{cls.__name__} needs {name!r}")
        return cls(**kwargs)
    return read


def fingerprint(cls: type) -> str:
    """A short hash of the shape ``cls`` reads and writes: every field's name and type, recursively.

    Why: the state file is refused when its shape is not this netlab's, and a version number someone must
    remember to bump is forgotten exactly when a feature adds a field. The shape itself cannot be forgotten:
    adding, renaming or retyping a field anywhere in the resolved lab changes this hash.
    """
    from netlab.core.digest import sha256

    return sha256(_shape(cls, set()).encode()).hexdigest()[:12]


def _shape(tp: Any, seen: set[type]) -> str:
    origin = get_origin(tp)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{','.join(_shape(a, seen) for a in get_args(tp))}]"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if tp in seen:
            return tp.__name__
        seen.add(tp)
        fields = ",".join(f"{name}:{_shape(ftype, seen)}{'?' if default else ''}"
                          for name, ftype, default in _fields(tp))
        return f"{tp.__name__}{{{fields}}}"
    return repr(tp) if not isinstance(tp, type) else tp.__name__
