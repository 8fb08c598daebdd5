"""Typed, validated configuration loaded from YAML.

Each module defines its own frozen dataclass of settings (its defaults are the one source of
defaults); this module turns a YAML file or a dict into such an object and rejects unknown
keys, wrong types and missing files with one line that names the file, the line and the key.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration problem, with the file, line and key in its one-line message."""


def load_config(path: str | Path, cls: type[T], overrides: dict[str, Any] | None = None) -> T:
    """Load `path` (YAML mapping) into dataclass `cls`; `overrides` are dotted keys applied after."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    data = {} if data is None else data
    lines = _key_lines(node, str(path))
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1: expected a mapping of settings for {cls.__name__}, got {type(data).__name__}"
        )
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    return from_dict(cls, data, source=str(path), lines=lines)


def from_dict(
    cls: type[T],
    data: Any,
    *,
    source: str = "<config>",
    lines: dict[str, int] | None = None,
    prefix: str = "",
) -> T:
    """Build dataclass `cls` from a mapping, recursing into nested dataclasses."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{_where(source, lines, prefix)}: expected a mapping for '{prefix or cls.__name__}', got {type(data).__name__}"
        )
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(
                f"{_where(source, lines, dotted)}: unknown key '{dotted}' "
                f"(expected one of: {', '.join(sorted(fields))})"
            )
        kwargs[key] = _coerce(hints[key], value, source, lines, dotted)
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{source}: missing required key '{prefix}{missing[0]}'")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{_where(source, lines, prefix.rstrip('.'))}: {exc}") from None


def to_dict(obj: Any) -> Any:
    """Plain dict/list form of a config object (for checkpoints and logs)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def _coerce(tp: Any, value: Any, source: str, lines: dict[str, int], key: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, source, lines, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is typing.Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(
                f"{_where(source, lines, key)}: key '{key}' must be one of {allowed}, got {value!r}"
            )
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source=source, lines=lines, prefix=f"{key}.")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(
                f"{_where(source, lines, key)}: key '{key}' expected a list, got {type(value).__name__}"
            )
        item_types = (
            args
            if origin is tuple and args and args[-1] is not Ellipsis
            else (args[0] if args else Any,) * len(value)
        )
        if origin is tuple and args and args[-1] is not Ellipsis and len(args) != len(value):
            raise ConfigError(
                f"{_where(source, lines, key)}: key '{key}' expected {len(args)} items, got {len(value)}"
            )
        items = [
            _coerce(t, v, source, lines, f"{key}[{i}]")
            for i, (t, v) in enumerate(zip(item_types, value, strict=True))
        ]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(
                f"{_where(source, lines, key)}: key '{key}' expected a mapping, got {type(value).__name__}"
            )
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{_where(source, lines, key)}: key '{key}' expected a finite number, got {value}"
        )
    if tp is int and isinstance(value, int) and not isinstance(value, bool) and value < 0:
        # every integer setting is a count, a size or a seed
        raise ConfigError(
            f"{_where(source, lines, key)}: key '{key}' expected an integer >= 0, got {value}"
        )
    if tp in (int, float, str, bool):
        if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
            return value
        raise ConfigError(
            f"{_where(source, lines, key)}: key '{key}' expected {tp.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _where(source: str, lines: dict[str, int], key: str) -> str:
    line = lines.get(key)
    while line is None and "." in key:
        key = key.rsplit(".", 1)[0]
        line = lines.get(key)
    return f"{source}:{line}" if line else source


def _key_lines(node: yaml.Node | None, source: str, prefix: str = "") -> dict[str, int]:
    """Map dotted keys to the 1-based line where they appear in the YAML document; a key
    given twice in one mapping is an error (YAML loaders silently keep the last)."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            dotted = f"{prefix}{key_node.value}"
            line = key_node.start_mark.line + 1
            if dotted in out:
                raise ConfigError(
                    f"{source}:{line}: duplicate key '{dotted}' (first given on line {out[dotted]})"
                )
            out[dotted] = line
            out.update(_key_lines(value_node, source, f"{dotted}."))
    return out


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value
