"""A lab compiled: everything ``up`` needs from the pure stages, as plain data that reads back without them.

``up`` needs three things of a topology: the kernel features it requires (checked before anything is made),
the resolved lab (recorded in the state, for ``status`` and ``probe``) and the plan (applied). Getting them
takes load, validate (pydantic and every feature's models), resolve and plan: ≈ 0.25 s of a 0.4 s ``netlab up
routed``, for a result that is the same every time the same file is brought up by the same netlab. So the
result is kept (netlab.stages.compile_cache), and this is its form: JSON through the state's strict codec
(netlab.core.codec) -- the resolved lab exactly as the state file holds it, and the plan exactly as ``up
--dry-run --json`` prints it, each action read back as the type its ``action`` name says.

Reading one back imports the plan's and the resolved lab's dataclasses, nothing of validate's.
"""

from __future__ import annotations

import json
import typing
from functools import cache

from netlab.core.codec import CodecError, from_data, to_data
from netlab.core.frozen import frozen
from netlab.core.requirement import Requirement
from netlab.model.plan import Action, Plan, action_name
from netlab.model.resolved import ResolvedLab

FORMAT = 1


@frozen
class Compiled:
    """The pure stages' result for one topology text: what ``up`` applies and records."""

    name: str
    """The lab's name (``name:``, with the suffix ``Lab.load`` may add)."""
    sha256: str
    """Of the topology's text: ``up`` of a lab already up from the same text is a no-op."""
    requirements: tuple[Requirement, ...]
    resolved: ResolvedLab
    plan: Plan

    def to_json(self, key: str) -> str:
        """The compiled lab under ``key`` (what it was compiled from: netlab.stages.compile_cache)."""
        data = {"format": FORMAT, "key": key, "name": self.name, "sha256": self.sha256,
                "requirements": to_data(self.requirements), "resolved": to_data(self.resolved),
                "plan": self.plan.to_dict()}
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def from_json(text: str, key: str) -> Compiled | None:
        """The compiled lab in ``text`` if it was compiled under ``key``, else None.

        Strict: a value of the wrong type, an unknown action or field is None too (the caller compiles
        again), never a half-read plan."""
        try:
            data = json.loads(text)
            # no shape check as the state has: the key covers netlab's code, hence every type's shape
            if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
                return None
            plan = plan_from_dict(data["plan"])
            name, sha256 = data["name"], data["sha256"]
            if not isinstance(name, str) or not isinstance(sha256, str):
                return None
            return Compiled(name, sha256, from_data(tuple[Requirement, ...], data["requirements"], "requirements"),
                            from_data(ResolvedLab, data["resolved"], "resolved"), plan)
        except (ValueError, KeyError, TypeError, CodecError):
            return None


@cache
def _action_types() -> dict[str, type]:
    """``create_veth`` → CreateVeth: the names ``action_to_dict`` writes."""
    return {action_name(t): t for t in typing.get_args(Action)}


def plan_from_dict(data: object) -> Plan:
    """The plan ``Plan.to_dict`` wrote. Raises CodecError (or KeyError/TypeError on a malformed dict)."""
    if not isinstance(data, dict) or set(data) != {"lab", "namespaces", "actions"}:
        raise CodecError("plan: expected lab, namespaces and actions")
    actions = data["actions"]
    if not isinstance(actions, list):
        raise CodecError("plan.actions: expected a list")
    out = []
    for i, item in enumerate(actions):
        if not isinstance(item, dict):
            raise CodecError(f"plan.actions[{i}]: expected an object")
        fields = dict(item)
        kind = _action_types().get(str(fields.pop("action", "")))
        if kind is None or fields.pop("phase", None) != getattr(kind, "phase", None):
            raise CodecError(f"plan.actions[{i}]: unknown action {item.get('action')!r}")
        out.append(typing.cast(Action, from_data(kind, fields, f"plan.actions[{i}]")))
    return Plan(from_data(str, data["lab"], "plan.lab"), from_data(tuple[str, ...], data["namespaces"],
                                                                    "plan.namespaces"), tuple(out))


__all__ = ["Compiled", "plan_from_dict"]
