"""The config loader: a root config class (the composition root's, :mod:`seqmask.app.root`) from YAML presets and
overrides.

A preset (``configs/<name>.yaml``) holds overrides only; everything else is the
sections' defaults. Each section lives beside the code that reads it (a frozen,
keyword-only dataclass with ``validate()``, see :mod:`seqmask.schema`) and imports
no torch, so loading a config is cheap. Loading checks every key, type and value,
and that every path exists, before any work starts; an error names the key and
where its value came from (the preset file or the override).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from seqmask.paths import PRESETS_DIR, resolve_path
from seqmask.schema import ConfigError, require

Root = TypeVar("Root")
"""A root config class: a frozen dataclass whose fields are the config sections."""


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but numbers in exponent form without a dot (``1e-3``) are floats, as in YAML 1.2."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def load_yaml(text: str) -> Any:
    """Parse YAML text (safe: plain data only) with YAML 1.2 floats."""
    return yaml.load(text, Loader=_Yaml12Loader)


def read_yaml_file(path: Path, what: str) -> Any:
    """The parsed YAML of the file ``path``; the error of a missing or malformed one names ``what`` (e.g. ``study
    plan``), the file, and for a YAML error its line, column and problem."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path}: no such file")
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path}: expected UTF-8 text, found {err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path}: not valid YAML: {_yaml_problem(err)}") from err


def _yaml_problem(err: yaml.YAMLError) -> str:
    """``line L, column C: PROBLEM (CONTEXT at line L, column C)``, 1-based, of a YAML error; its text when it has no
    mark."""
    if not isinstance(err, yaml.MarkedYAMLError) or err.problem_mark is None:
        return str(err)
    problem = f"{_position(err.problem_mark)}: {err.problem}"
    if err.context and err.context_mark is not None:
        return f"{problem} ({err.context} at {_position(err.context_mark)})"
    return f"{problem} ({err.context})" if err.context else problem


def _position(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def load_config(
    root: type[Root], preset: str | Path = "small", overrides: Mapping[str, Any] | Sequence[str] = ()
) -> Root:
    """Load a preset (name in ``configs/`` or a YAML path) and apply ``key.sub=value`` overrides.

    An error names where the bad value came from: the preset file, or the override (``--set KEY=VALUE``).
    """
    preset_path = _preset_path(preset)
    data = _preset_data(preset_path, seen=())
    data["preset"] = preset_path.stem
    return _build(root, data, overrides, default_origin=str(preset_path))


def _preset_path(preset: str | Path) -> Path:
    path = Path(preset) if str(preset).endswith((".yaml", ".yml")) else PRESETS_DIR / f"{preset}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise ConfigError(f"preset {str(preset)!r}: no file {path} (known presets: {', '.join(known)})")
    return path


def _preset_data(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """A preset's overrides, over those of the preset it ``extends`` (a name in ``configs/``), if any."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: expected a preset name, found {parent!r}")
    parent_path = _preset_path(parent)
    if parent_path in (path, *seen):
        raise ConfigError(f"{path}: extends {parent!r}, which extends it back")
    return _merged(_preset_data(parent_path, (*seen, path)), data)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` onto ``base``, section by section."""
    merged = dict(base)
    for key, value in over.items():
        merged[key] = (
            _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        )
    return merged


def with_overrides(config: Root, overrides: Mapping[str, Any], *, origin: str) -> Root:
    """``config`` with ``{"a.b": value}`` overrides applied and checked; errors are blamed on ``origin``."""
    return _build(type(config), to_dict(config), dict(overrides), default_origin=origin, label=origin)


def config_from_dict(root: type[Root], data: Mapping[str, Any]) -> Root:
    """The config :func:`to_dict` wrote (a flow's parameter), checked again."""
    return _build(root, dict(data), {}, default_origin="config")


def to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (tuples become lists)."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return to_dict(value)
    return list(map(_plain, value)) if isinstance(value, tuple) else value


def _build(
    root: type[Root],
    data: dict[str, Any],
    overrides: Mapping[str, Any] | Sequence[str],
    *,
    default_origin: str,
    label: str = "",
) -> Root:
    parsed = parse_overrides(overrides)
    for key, value in parsed.items():
        _set_dotted(data, key, value)
    if isinstance(overrides, Mapping):
        labels = {key: f"{label or 'override'} {key}" for key in parsed}
    else:
        labels = {item.partition("=")[0].strip(): f"--set {item}" for item in overrides}

    def origin(key: str) -> str:
        """Where the value of ``key`` (or of the section it names) was given."""
        for overridden, where in labels.items():
            if (
                key == overridden
                or key.startswith((overridden + ".", overridden + "["))
                or overridden.startswith(key + ".")
            ):
                return where
        return default_origin

    config = from_dict(root, data, origin=origin)
    try:
        validate(config)
    except ConfigError as err:  # "key: expected ...": say where that value came from
        raise ConfigError(f"{origin(str(err).partition(':')[0])}: {err}") from err
    return config


def validate(config: Any, prefix: str = "") -> None:
    """Call ``validate()`` of every section (depth first); a ``ConfigError`` gets the section's key in front.
    Then every path a field holds must exist."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            validate(value, f"{prefix}{f.name}.")
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    validate(item, f"{prefix}{f.name}[{i}].")
    own = getattr(config, "validate", None)
    if own is not None:
        try:
            own()
        except ValueError as err:
            raise ConfigError(f"{prefix}{err}") from err
    if not prefix:
        for key, path in path_values(config):
            require(resolve_path(path).exists(), key, "an existing file or directory", str(resolve_path(path)))


def path_values(config: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, value)`` of every path field (:data:`~seqmask.schema.PATH`) that is set in a config dataclass."""
    found = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            found += path_values(value, f"{prefix}{f.name}.")
        elif f.metadata.get("path") and value is not None:
            found.append((prefix + f.name, value))
    return found


def _field_at(cls: type, dotted: str) -> dataclasses.Field | None:
    """The dataclass field a dotted key names, or None when it names none."""
    *parents, leaf = dotted.split(".")
    for name in parents:
        hint = typing.get_type_hints(cls).get(name)
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            return None
        cls = hint
    return next((f for f in dataclasses.fields(cls) if f.name == leaf), None)


def absolute_paths(root: type, overrides: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``overrides`` with every relative path value of a path field made absolute against ``base``
    (the command line's paths mean what they mean in the user's shell, not in the project root)."""
    resolved = {}
    for key, value in overrides.items():
        f = _field_at(root, key)
        if (
            f is not None
            and f.metadata.get("path")
            and isinstance(value, str)
            and not Path(value).expanduser().is_absolute()
        ):
            value = str((base / value).resolve())
        resolved[key] = value
    return resolved


def parse_overrides(overrides: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
    """``["a.b=VALUE", ...]`` (VALUE parsed as YAML) or a mapping -> ``{"a.b": value}``."""
    if isinstance(overrides, Mapping):
        return dict(overrides)
    parsed = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. speech_prep.synth.target_hours=0.5")
        try:
            parsed[key.strip()] = load_yaml(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML: {err}") from err
    return parsed


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for name in parents:
        node = node.setdefault(name, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {name!r} is not a section")
    node[leaf] = value


def from_dict(
    cls: type,
    data: Mapping[str, Any],
    *,
    origin: Callable[[str], str] = lambda key: "config",
    prefix: str = "",
    base: Any = None,
) -> Any:
    """Dataclass ``cls`` with the values of ``data`` over ``base`` (default: ``cls()``), checking every key and type.

    A nested section given in ``data`` is merged the same way onto ``base``'s value for it, so a preset that sets
    one field of a section keeps that section's own defaults for the others. ``origin(key)`` names where a key was
    given.
    """
    if not isinstance(data, Mapping):
        key = prefix.rstrip(".") or "config"
        raise ConfigError(f"{origin(key)}: {key}: expected a mapping, found {type(data).__name__}")
    base = cls() if base is None else base
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = prefix + unknown[0]
        raise ConfigError(
            f"{origin(key)}: unknown key {key!r} (expected one of: {', '.join(prefix + f for f in fields)})"
        )
    changes = {}
    for name, value in data.items():
        default = getattr(base, name)
        if dataclasses.is_dataclass(default):
            changes[name] = from_dict(type(default), value, origin=origin, prefix=f"{prefix}{name}.", base=default)
        else:
            changes[name] = _convert(hints[name], value, origin, prefix + name)
    return dataclasses.replace(base, **changes)


def _convert(hint: Any, value: Any, origin: Callable[[str], str], key: str) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _convert(non_none[0], value, origin, key)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise _type_error(origin(key), key, hint, value)
        if dataclasses.is_dataclass(args[0]):  # a list of sections, each onto its defaults
            return tuple(from_dict(args[0], item, origin=origin, prefix=f"{key}[{i}].") for i, item in enumerate(value))
        return tuple(_convert(args[0], item, origin, f"{key}[{i}]") for i, item in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise _type_error(origin(key), key, hint, value)
    if not isinstance(value, hint):
        raise _type_error(origin(key), key, hint, value)
    return value


def _type_error(where: str, key: str, hint: Any, value: Any) -> ConfigError:
    expected = getattr(hint, "__name__", str(hint))
    return ConfigError(f"{where}: {key}: expected {expected}, found {type(value).__name__} {value!r}")
