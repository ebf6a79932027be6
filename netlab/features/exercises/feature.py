"""The exercises feature's hooks: the ``exercise:`` section checked at validate, carried into the resolved lab
(and so into the state, which grading reads), and the ``netlab exercise`` verb."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.features.base import CheckContext, Feature, ResolveContext
from netlab.features.exercises import checks
from netlab.model.topology import Topology


def check(ctx: CheckContext) -> None:
    ex = getattr(ctx.topo, "exercise", None)
    if ex is not None:
        checks.check(ctx.topo, ex, ctx.col)


def resolve(ctx: ResolveContext) -> Mapping[str, object]:
    ex = ctx.topo.exercise
    return {"exercise": ex.model_dump(mode="json") if ex is not None else None}


def tags(topo: Topology) -> Iterable[str]:
    if topo.exercise is not None:
        yield f"exercise ({topo.exercise.topic}, level {topo.exercise.level})"


FEATURE = Feature(
    name="exercises",
    check=check,
    resolve=resolve,
    tags=tags,
)
