"""The shape pass of validate: pydantic's errors in a learner's words, and salvage of what is well-formed.

Split from :mod:`netlab.stages.validate` (which runs it first): pydantic reports unknown keys, wrong types
and out-of-range numbers with their data paths; this turns each into a message with a hint ("did you
mean 'description'?"), and keeps every well-formed part of a file that failed, so that the meaning pass
still checks the rest -- one typo must not hide the other problems of the file.
"""

from __future__ import annotations

import difflib
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from netlab.core.kernel_limits import METRIC_MAX
from netlab.model.topology import Node, Topology
from netlab.probes import checks as probe_checks

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, LoadedFile, PathKey

RANGE_HINTS = {
    "metric": f"the kernel keeps a route's metric in 32 bits: 0-{METRIC_MAX}; lower wins",
    "mtu": "Linux takes 68 (the IPv4 minimum) to 65535 on the interfaces netlab makes",
}
"""Hints for out-of-range numbers, by key: what the kernel does with such a number."""


def _field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(path: PathKey) -> type[BaseModel] | None:
    """The model class that the mapping at ``path`` should match (for "did you mean" hints).

    Walked from the models' own annotations, so every section a feature adds (tunnels, iptables,
    IPVS, ...) gets hints without being listed here.
    """
    model: type[BaseModel] = Topology
    i = 0
    while i < len(path):
        part = path[i]
        field = model.model_fields.get(part) if isinstance(part, str) else None
        below = _model_below(field.annotation) if field is not None else None
        if below is None:
            return None
        model, i = below[0], i + 1 + below[1]
    return model


def _model_below(annotation: Any) -> tuple[type[BaseModel], int] | None:
    """(model, extra path steps) that a field's value holds: 0 for a model, 1 more per list index or
    dict key in between. None for scalars and for unions of several models (no one set of keys)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _model_below(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, 0
    if origin in (tuple, list, dict) and args:
        inner = _model_below(args[-1] if origin is dict else args[0])
        return (inner[0], inner[1] + 1) if inner is not None else None
    if origin in (Union, UnionType):
        found = [b for b in (_model_below(a) for a in args if a is not type(None)) if b is not None]
        return found[0] if len(found) == 1 else None
    return None


def _shape_diagnostics(exc: ValidationError, col: Collector) -> None:
    for err in exc.errors():
        loc: PathKey = tuple(p for p in err["loc"] if isinstance(p, str | int))
        # pydantic adds the union member tag or the dict-key marker to locations; drop them.
        loc = tuple(p for p in loc if p not in ("[key]",) and not str(p).startswith("function-"))
        loc = probe_checks.clean_loc(loc)
        special = probe_checks.shape_problem(err, loc, col.loaded.data)
        if special is not None:  # probes and services: wording that knows their kinds
            col.add(loc, *special)
            continue
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            model = _model_at(loc[:-1])
            hint = None
            if model is not None:
                close = difflib.get_close_matches(key, _field_names(model), n=1)
                allowed = ", ".join(_field_names(model))
                hint = f"did you mean {close[0]!r}?" if close else f"allowed keys here: {allowed}"
            col.add(loc, f"unknown key {key!r}", hint)
        elif kind == "missing":
            col.add(loc, f"required key {str(loc[-1])!r} is missing")
        elif kind in ("string_type", "int_type", "int_parsing", "bool_type", "bool_parsing", "dict_type",
                      "tuple_type", "list_type", "model_type"):
            wanted = {"string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
                      "bool_type": "true or false", "bool_parsing": "true or false",
                      "dict_type": "a mapping", "tuple_type": "a list", "list_type": "a list",
                      "model_type": "a mapping"}[kind]
            col.add(loc, f"must be {wanted}, not {_describe(err.get('input'))}")
        elif kind in ("greater_than_equal", "less_than_equal"):
            col.add(loc, f"{err.get('input')!r} is out of range: {err['msg'].lower()}",
                    RANGE_HINTS.get(str(loc[-1])) if loc else None)
        else:
            col.add(loc, err["msg"])


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def parse(loaded: LoadedFile, col: Collector) -> Topology | None:
    """Parse the whole file; on shape errors, report them and parse what can be parsed."""
    try:
        return Topology.model_validate(loaded.data)
    except ValidationError as exc:
        _shape_diagnostics(exc, col)
    return None


M = TypeVar("M", bound=BaseModel)
_MISSING = object()


def _salvage_value(annotation: Any, value: object, col: Collector) -> object:
    """``value`` checked against ``annotation``; for containers of models, what of it is well-formed.

    Models in a list that cannot be salvaged become ``None`` (so the data paths of the others keep
    their indexes); the meaning pass skips them. Bad scalars in a list are dropped. Returns ``_MISSING``
    if nothing can be kept.
    """
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        pass
    base = annotation
    if get_origin(base) is Annotated:
        base = get_args(base)[0]
    origin, args = get_origin(base), get_args(base)
    if origin is tuple and args and isinstance(value, list):
        item = args[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            return tuple(salvage(item, x, col) for x in value)
        scalars = [_salvage_value(item, x, col) for x in value]
        return tuple(x for x in scalars if x is not _MISSING)  # scalars: drop the bad ones
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kept = _salvage_value(args[1], item, col)
            if kept is not _MISSING:
                out[str(key)] = kept
        return out
    if isinstance(base, type) and issubclass(base, BaseModel):
        kept_model = salvage(base, value, col)
        return _MISSING if kept_model is None else kept_model
    return _MISSING


def salvage(model: type[M], raw: object, col: Collector) -> M | None:
    """As much of ``model`` as ``raw`` holds well-formed, so one typo does not hide other problems.

    Fields with shape errors fall back to their defaults; a model missing a required field that
    cannot be salvaged is ``None``. The result is built without validation (``model_construct``)
    and is only ever used by the meaning pass of a file that already failed.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None
    try:
        return model.model_validate(raw)
    except ValidationError:
        pass
    values: dict[str, object] = {}
    for name, field in model.model_fields.items():
        annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        kept = _salvage_value(annotation, raw[name], col) if name in raw else _MISSING
        if kept is _MISSING:
            if field.is_required():
                return None
            values[name] = field.get_default(call_default_factory=True)
        else:
            values[name] = kept
    built = model.model_construct(None, **values)
    col.incomplete.add(id(built))
    return built


def partial(loaded: LoadedFile, col: Collector) -> Topology:
    """The topology of a file that failed the shape pass, with every well-formed part kept."""
    data = loaded.data if isinstance(loaded.data, dict) else {}
    raw_nodes = data.get("nodes")
    nodes = {}
    if isinstance(raw_nodes, dict):
        # a node exists even if its body is wrong: references to it are not "unknown node"
        nodes = {str(k): salvage(Node, v, col) or Node() for k, v in raw_nodes.items()}
    fixed = {**data, "nodes": {}, "name": data.get("name") if isinstance(data.get("name"), str) else "?"}
    topo = salvage(Topology, fixed, col)
    if topo is None:
        topo = Topology.model_construct(name="?", nodes={})
    return topo.model_copy(update={"nodes": nodes})
