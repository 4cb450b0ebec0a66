"""Records <-> Redis hash fields, stream entries -> `Change`.

A record is a hash with one field per model field, each value JSON text, so the Lua
scripts can read the few fields they reason about (`held_by`, `on`, `holding`, `pose`,
`status`) and write single fields without rewriting the record. `attrs` is stored one
hash field per attribute (`attrs.<key>`), so a merge is a plain HSET of those fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import InvalidUpdateError
from .models import Change, EntityKind, ObjectState, PlaceState, RobotState

__all__ = [
    "MODEL_OF",
    "decode_change",
    "decode_record",
    "encode_fields",
    "encode_record",
    "pairs_to_dict",
    "validate_fields",
]

M = TypeVar("M", bound=BaseModel)

MODEL_OF: dict[EntityKind, type[RobotState] | type[ObjectState] | type[PlaceState]] = {
    EntityKind.robot: RobotState,
    EntityKind.object: ObjectState,
    EntityKind.place: PlaceState,
}

_STAMP = ("version", "updated_at", "updated_by")
_ATTRS = "attrs."


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def encode_fields(fields: Mapping[str, Any]) -> list[str]:
    """JSON-mode field values -> flat [field, json, ...] for HSET (attrs expanded)."""
    out: list[str] = []
    for name, value in fields.items():
        if name == "attrs":
            for key, attr in value.items():
                out += [f"{_ATTRS}{key}", _dumps(attr)]
        else:
            out += [name, _dumps(value)]
    return out


def encode_record(record: BaseModel) -> tuple[dict[str, Any], list[str]]:
    """A whole record (stamps left to the script) -> (JSON-mode dict, HSET pairs)."""
    data = record.model_dump(mode="json", exclude=set(_STAMP))
    return data, encode_fields(data)


def pairs_to_dict(flat: Sequence[str]) -> dict[str, str]:
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def decode_record(model: type[M], flat: str | Sequence[str] | Mapping[str, str]) -> M:
    """A record from the scripts' JSON text (lua/common.lua `record_json`), or from the
    hash's fields (HGETALL, as a mapping or a flat list)."""
    if isinstance(flat, str):
        return model.model_validate_json(flat)
    raw = flat if isinstance(flat, Mapping) else pairs_to_dict(flat)
    data: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    for name, text in raw.items():
        if name.startswith(_ATTRS):
            attrs[name[len(_ATTRS) :]] = json.loads(text)
        else:
            data[name] = json.loads(text)
    if attrs or "attrs" in model.model_fields:
        data["attrs"] = attrs
    return model.model_validate(data)


@cache
def _adapter(model: type[BaseModel], field: str) -> TypeAdapter[Any]:
    annotation: Any = model.model_fields[field].annotation
    return TypeAdapter(annotation)


def validate_fields(
    model: type[BaseModel], fields: Mapping[str, Any], *, forbidden: Mapping[str, str]
) -> dict[str, Any]:
    """Check and normalise the fields of a partial update -> JSON-mode values.

    `forbidden` maps field names the caller may not set here to the reason why."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name in forbidden:
            raise InvalidUpdateError(
                f"{model.__name__}.{name} cannot be updated here: {forbidden[name]}"
            )
        if name not in model.model_fields or name in _STAMP:
            known = ", ".join(sorted(set(model.model_fields) - set(_STAMP) - set(forbidden)))
            raise InvalidUpdateError(
                f"{model.__name__} has no updatable field {name!r} (fields: {known})"
            )
        adapter = _adapter(model, name)
        try:
            out[name] = adapter.dump_python(adapter.validate_python(value), mode="json")
        except ValidationError as e:
            raise InvalidUpdateError(f"bad value for {model.__name__}.{name}: {e}") from e
    return out


def decode_change(
    entry_id: str, fields: Mapping[str, str], *, kind: str | None = None, name: str | None = None
) -> Change:
    """A stream entry -> Change. Per-entity streams omit kind and name (the key says them)."""
    return Change.model_validate(
        {
            "cursor": entry_id,
            "ts": float(fields["t"]),
            "kind": kind if kind is not None else fields["k"],
            "name": name if name is not None else fields["n"],
            "op": fields["op"],
            "fields": json.loads(fields["f"]),
            "by": fields.get("by", ""),
            "version": int(fields.get("v", 0)),
        }
    )
