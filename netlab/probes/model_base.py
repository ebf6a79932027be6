"""What every probe model shares: the frozen base, the ``name``/``description`` of a probe, ports, seconds,
names given as one or a list, and counts (:class:`Amount`). Only pydantic is imported here."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["Amount", "AmountField", "Names", "Port", "Seconds"]

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=600)]

class _Model(BaseModel):
    """Frozen, no unknown keys, field docs become JSON Schema descriptions; ``from`` accepted as ``from_``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _one_or_many(value: object) -> object:
    """``on: router:eth1`` as well as ``on: [router:eth1, server:eth0]``."""
    if isinstance(value, str):
        return [value]
    return value


def _amount(value: object) -> object:
    """``packets: 0`` means exactly 0; ``packets: {min: 3}`` at least 3."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"min": value, "max": value}
    return value


Names = Annotated[tuple[str, ...], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]


class Amount(_Model):  # the runners check and describe counts with its record, netlab.probes.spec.Amount
    """A count a probe expects: a number (exactly that many) or ``{min: N}``, ``{max: N}``, both."""

    min: int | None = Field(default=None, ge=0)
    """At least this many."""
    max: int | None = Field(default=None, ge=0)
    """At most this many."""


AmountField = Annotated[Amount, BeforeValidator(_amount, json_schema_input_type=int | Amount)]


class _Probe(_Model):
    name: str
    """Unique name of the probe (letters, digits, ``-``, ``_``): ``netlab probe LAB --only NAME``,
    ``Lab.probe(NAME)``, the JUnit test case."""
    description: str | None = None
    """What the probe proves, for the learner reading the results."""
