"""Type-checked merging of nested mappings into config dataclasses.

Shared by the training configuration (:mod:`pose2mesh.train.config`, YAML and
``--set`` values) and the checkpoint loader (:mod:`pose2mesh.models.checkpoint`,
a checkpoint's ``model_config``), so that both refuse unknown keys and values
of the wrong type with the same one-line ``ValueError``.  No coordinates here.
"""
from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

__all__ = ["merge_checked"]


def merge_checked(obj, values: dict, path: str = ""):
    """Return a copy of dataclass ``obj`` with ``values`` (nested dict) merged in, each value type-checked.

    A field holding a dataclass is merged recursively; any other field is
    replaced by the value, checked against (and converted to) the field's type.
    ``path`` is the prefix of the keys in error messages (``"data."``).
    """
    if not isinstance(values, dict):
        raise ValueError(f"config section '{path.rstrip('.') or 'root'}' must be a mapping, got {values!r}")
    hints = get_type_hints(type(obj))
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes = {}
    for key, value in values.items():
        if key not in fields:
            raise ValueError(f"unknown config key '{path}{key}'; valid: {', '.join(sorted(fields))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            changes[key] = merge_checked(current, value, f"{path}{key}.")
        else:
            changes[key] = _check(hints[key], value, f"{path}{key}")
    try:
        return dataclasses.replace(obj, **changes)
    except ValueError as err:  # a check of the dataclass itself (ModelConfig: anchor in [0, 1] ...)
        if not path:
            raise
        raise ValueError(f"config section '{path.rstrip('.')}': {err}") from None


_BAD = object()  # _convert's "does not fit"


def _is_union(tp) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _convert(tp, value):
    """``value`` as type ``tp`` (a field's type hint), or ``_BAD``.

    Conversions: an int to a float; a string to an int or float when it reads as
    one (YAML 1.1 leaves ``3e-4`` a string); a list to a tuple. Nothing else:
    a bool is not a number, a number is not a string, a string is not a list.
    """
    origin = get_origin(tp)
    if _is_union(tp):
        for arm in get_args(tp):
            out = _convert(arm, value)
            if out is not _BAD:
                return out
        return _BAD
    if tp is Any:
        return value
    if tp is type(None):
        return None if value is None else _BAD
    if tp is bool:
        return value if isinstance(value, bool) else _BAD
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return _BAD
        if tp is int and isinstance(value, float):
            return _BAD  # 2.5 steps; 2.0 is refused as well, rather than guessing
        try:
            return tp(value)
        except (ValueError, OverflowError):
            return _BAD
    if tp is str:
        return value if isinstance(value, str) else _BAD
    if tp is dict or origin is dict:
        return value if isinstance(value, dict) else _BAD
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return _BAD
        items = [_convert(get_args(tp)[0], v) for v in value]
        return _BAD if any(v is _BAD for v in items) else origin(items)
    raise TypeError(f"config field type {tp!r} is not supported by the checker")  # a new field needs a case


def _check(tp, value, name: str):
    """``value`` converted to type ``tp``; if it does not fit, a ``ValueError`` naming key ``name``, value and type."""
    out = _convert(tp, value)
    if out is _BAD:
        expected = getattr(tp, "__name__", None) if get_origin(tp) is None and not _is_union(tp) else None
        expected = expected or str(tp).replace("typing.", "")  # int; list[str]; str | None
        hint = f" (a list in YAML: [{value}])" if isinstance(value, str) and "list" in expected else ""
        raise ValueError(f"config key '{name}' expects {expected}, got {value!r}{hint}")
    return out
