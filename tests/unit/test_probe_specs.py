"""The probe records the runners read (netlab.probes.spec) match the models that validate (netlab.probes.model).

``netlab probe`` reads a lab's recorded probes without pydantic, as plain records with the same fields and
defaults. Nothing generates one from the other, so this test is what keeps them one definition: same field
names, same defaults, same required fields, kind by kind and for the nested records; and every probe in the
catalog, validated by its model and dumped into the state as ``up`` does, reads back equal to that model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import BaseModel

from netlab.api import Lab
from netlab.catalog import names as catalog_names
from netlab.core.codec import CodecError
from netlab.probes import model, spec
from netlab.probes.checks import _PROBE_MODELS  # kind → validating model, as validate finds it

MISSING = object()


def _model_fields(cls: type[BaseModel]) -> dict[str, Any]:
    return {name: MISSING if f.is_required() else f.get_default(call_default_factory=True)
            for name, f in cls.model_fields.items()}


def _spec_fields(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = MISSING
    return out


PAIRS = [(_PROBE_MODELS[kind], spec.SPECS[kind]) for kind in spec.PROBE_KINDS] + [
    (model.Amount, spec.Amount), (model.IpvsCounter, spec.IpvsCounter), (model.FlowCheck, spec.FlowCheck)]


def test_every_kind_has_a_record() -> None:
    assert set(spec.SPECS) == set(_PROBE_MODELS)  # the kinds the models validate, each with its record
    assert all(spec.SPECS[kind].__name__ == _PROBE_MODELS[kind].__name__ for kind in spec.SPECS)


@pytest.mark.parametrize(("validating", "record"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_same_fields_and_defaults(validating: type[BaseModel], record: type) -> None:
    assert _spec_fields(record) == _model_fields(validating)


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name", catalog_names())
def test_every_catalog_probe_reads_back_as_its_model(name: str) -> None:
    lab = Lab.load(name)
    recorded = lab.resolved.probes  # what up writes into the state: model_dump(mode="json", by_alias=True)
    assert len(recorded) == len(lab.topology.probes)
    for validated, data in zip(lab.topology.probes, recorded, strict=True):
        read = spec.probe_from_data(data)
        assert type(read).__name__ == type(validated).__name__
        assert _plain(read) == _plain(validated), validated.name


def test_a_bad_record_is_refused_with_its_path() -> None:
    good = {"name": "p", "kind": "ping", "from": "a", "to": "10.0.0.1"}
    assert spec.probe_from_data(good) == spec.PingProbe(name="p", kind="ping", from_="a", to="10.0.0.1")
    for bad, words in (({**good, "count": "3"}, "probes[0].count: expected int"),
                       ({**good, "colour": 1}, "colour"),
                       ({**good, "kind": "pong"}, "probes[0].kind: 'pong' is not one of"),
                       ({"name": "p", "kind": "ping", "to": "x"}, "from_"),
                       ([good], "expected an object")):
        with pytest.raises(CodecError, match=words.replace("[", r"\[").replace("]", r"\]")):
            spec.probe_from_data(bad, "probes[0]")
