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
import types
import typing
from typing import Any, TypeVar, Union, get_args, get_origin

__all__ = ["CodecError", "from_data", "to_data"]

T = TypeVar("T")


class CodecError(ValueError):
    """Data that does not fit the type it is read as; the message names where."""


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type, has a default) of each init field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name], f.default is not dataclasses.MISSING
                  or f.default_factory is not dataclasses.MISSING)
                 for f in dataclasses.fields(cls) if f.init)


def to_data(value: object) -> object:
    """Plain data (dicts, lists, str, int, float, bool, None) for a dataclass tree."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_data(getattr(value, name)) for name, _, _ in _fields(type(value))}
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


def _where(path: str) -> str:
    return path or "the top level"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _short(data: object) -> str:
    """A bad value as a message shows it: a state file is untrusted and may hold a megabyte where a number
    belongs, and the path already says where."""
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."


def from_data(cls: type[T], data: object, path: str = "") -> T:
    """Build a ``cls`` from plain data, checking every value against its annotation."""
    return typing.cast(T, _read(cls, data, path))


def _read(tp: Any, data: object, path: str) -> object:
    if tp is object or tp is Any:
        return data
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _read(arg, data, path)
            except CodecError as exc:
                errors.append(str(exc))
        raise CodecError(errors[0] if len(errors) == 1 else f"{_where(path)}: {_short(data)} fits none of {tp}")
    if origin is typing.Literal:
        # by type too: ``True in (1,)`` and ``1 in (True,)`` are both true in Python
        if not any(type(data) is type(choice) and data == choice for choice in get_args(tp)):
            raise CodecError(f"{_where(path)}: {_short(data)} is not one of {get_args(tp)}")
        return data
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise CodecError(f"{_where(path)}: expected a list, got {type(data).__name__}")
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise CodecError(f"{_where(path)}: expected {len(args)} items, got {len(data)}")
        return tuple(_read(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin is dict:
        if not isinstance(data, dict):
            raise CodecError(f"{_where(path)}: expected an object, got {type(data).__name__}")
        _, value_type = get_args(tp)
        return {str(k): _read(value_type, v, _join(path, str(k))) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _read_dataclass(tp, data, path)
    if tp is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
    elif tp in (str, int, bool) and type(data) is tp:
        return data
    raise CodecError(f"{_where(path)}: expected {getattr(tp, '__name__', tp)}, got {_short(data)}")


def _read_dataclass(cls: type, data: object, path: str) -> object:
    if not isinstance(data, dict):
        raise CodecError(f"{_where(path)}: expected an object for {cls.__name__}, got {type(data).__name__}")
    fields = _fields(cls)
    unknown = set(data) - {name for name, _, _ in fields}
    if unknown:
        raise CodecError(f"{_where(path)}: unknown key(s) {_short(sorted(map(str, unknown)))} for {cls.__name__}")
    kwargs = {}
    for name, tp, has_default in fields:
        if name in data:
            kwargs[name] = _read(tp, data[name], _join(path, name))
        elif not has_default:
            raise CodecError(f"{_where(path)}: {cls.__name__} needs {name!r}")
    return cls(**kwargs)


def fingerprint(cls: type) -> str:
    """A short hash of the shape ``cls`` reads and writes: every field's name and type, recursively.

    Why: the state file is refused when its shape is not this netlab's, and a version number someone must
    remember to bump is forgotten exactly when a feature adds a field. The shape itself cannot be forgotten:
    adding, renaming or retyping a field anywhere in the resolved lab changes this hash.
    """
    import hashlib

    return hashlib.sha256(_shape(cls, set()).encode()).hexdigest()[:12]


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
