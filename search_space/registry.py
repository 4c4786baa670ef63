"""Name -> constructor registries filled by decorators, so the builder never branches on names."""
from __future__ import annotations

import inspect
import typing
from typing import Any, Callable, Dict

from .errors import AttnasError


class Registry:
    """A dict of named constructors; ``@registry.register("name")`` adds one.

    The keyword-only arguments of a constructor (with annotations and defaults) are its typed
    parameters: they are what a config may set, and :meth:`params` validates a dict against them.
    A constructor may define ``canonical_params(params, field) -> params`` (a classmethod) to check values
    that need no channels (raising AttnasError) and to put equivalent values in one form (e.g. sort a set).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, Callable] = {}

    def register(self, name: str, **meta: Any):
        def deco(obj):
            if name in self._items:
                raise RuntimeError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            obj.registry_name = name
            for k, v in meta.items():
                setattr(obj, k, v)
            return obj

        return deco

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def get(self, name: str, field: str | None = None) -> Callable:
        if name not in self._items:
            raise AttnasError(
                f"{field or self.kind}: {name!r} is not a registered {self.kind}; "
                f"allowed: {', '.join(self.names())}"
            )
        return self._items[name]

    def param_specs(self, name: str) -> Dict[str, inspect.Parameter]:
        """The keyword-only parameters of ``name``'s constructor: name -> inspect.Parameter."""
        return keyword_params(self.get(name))

    def params(self, name: str, given: dict, field: str) -> dict:
        """Validate ``given`` against ``name``'s keyword parameters; return all of them, defaults filled."""
        specs = self.param_specs(name)
        out = {}
        for key in given:
            if key not in specs:
                allowed = ", ".join(sorted(specs)) or "(none)"
                raise AttnasError(f"{field}.{key}: unknown parameter for {self.kind} {name!r}; allowed: {allowed}")
        for key, p in specs.items():
            out[key] = coerce(given[key], p.annotation, f"{field}.{key}") if key in given else p.default
        canon = getattr(self.get(name), "canonical_params", None)
        return canon(out, field) if canon else out


def keyword_params(obj: Callable) -> Dict[str, inspect.Parameter]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    sig = inspect.signature(target)
    hints = typing.get_type_hints(target)
    out = {}
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            out[p.name] = p.replace(annotation=hints.get(p.name, p.annotation))
    return out


def coerce(value: Any, annotation: Any, field: str) -> Any:
    """Check ``value`` against a simple annotation (int, float, str, bool, Literal, tuple, Optional)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is inspect.Parameter.empty or annotation is Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, field)
            except AttnasError as e:
                errors.append(str(e))
        raise AttnasError(errors[0] if errors else f"{field}: {value!r} is not allowed")
    if origin is typing.Literal:
        if value not in args:
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: {', '.join(map(str, args))}")
        return value
    if origin in (tuple, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise AttnasError(f"{field}: {value!r} is not a list")
        inner = args[0] if args else Any
        return tuple(coerce(v, inner, f"{field}[{i}]") for i, v in enumerate(value))
    if annotation is bool:
        if not isinstance(value, bool):
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: true, false")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: an integer")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: a number")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: a string")
        return value
    if annotation is dict or origin is dict:
        if not isinstance(value, dict):
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: a mapping")
        return dict(value)
    return value


ATTENTION = Registry("attention")
BACKBONES = Registry("backbone")
CONNECTIONS = Registry("connection")
GATINGS = Registry("gating")
