"""The topology's JSON Schema (``netlab schema``), with every field's description taken from its docstring.

Why not pydantic's ``use_attribute_docstrings``: it reads each model's source and parses it when the class is
created, on every import of the models -- ≈ 60 ms of every ``up``, ``validate`` and ``probe`` for text only the
schema shows. Here the same docstrings (the string right after a field, as in the model modules) are read only
when a schema is asked for.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema


@cache
def _own_docs(cls: type) -> dict[str, str]:
    """Field name → the docstring written right after it in ``cls``'s own body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body
    if not body or not isinstance(body[0], ast.ClassDef):
        return {}
    docs: dict[str, str] = {}
    items = body[0].body
    for stmt, nxt in itertools.pairwise(items):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
            docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Field name → docstring, the model's own over its bases'."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            out.update(_own_docs(cls))
    return out


class _WithDocstrings(GenerateJsonSchema):
    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        model = schema["cls"]
        docs = field_docs(model)
        props: dict[str, Any] = out.get("properties", {})
        for name, field in model.model_fields.items():
            prop = props.get(field.alias or name)
            if isinstance(prop, dict) and name in docs and "description" not in prop:
                prop["description"] = docs[name]
        return out


def topology_schema() -> dict[str, Any]:
    """The JSON Schema of a topology file (draft 2020-12), for editors."""
    from netlab.model.topology import Topology

    schema = Topology.model_json_schema(schema_generator=_WithDocstrings)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "netlab topology"
    return schema
