"""Name -> constructor registries filled by decorators, so the builder never branches on names."""
from __future__ import annotations

import functools
import inspect
import math
import types
import typing
from typing import Any, Callable, Dict

from .constraints import Aliases, is_marker
from .errors import AttnasError


class Registry:
    """A dict of named constructors; ``@registry.register("name")`` adds one.

    The keyword-only arguments of a constructor (with annotations and defaults) are its typed
    parameters: they are what a config may set, and :meth:`params` validates a dict against them. Constraints
    shared by many parameters (positive, odd kernel, non-empty) are markers in the annotation
    (``Annotated[int, Positive]``, see :mod:`search_space.constraints`). A constructor may define
    ``canonical_params(params, field) -> params`` (a classmethod) for what annotations cannot say: rules
    between parameters, and putting equivalent values in one form (sort a set, fold a value that cannot apply).

    The package that defines a kind's base class installs its contract with :meth:`contract`: a function
    ``check(name, obj)`` run at registration, which raises on a programming error (a module that is not a
    subclass, inconsistent metadata), so a broken module fails at import, not in a study.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, Callable] = {}
        self._check: Callable[[str, Any], None] | None = None

    def contract(self, check: Callable[[str, Any], None]) -> None:
        """Install the registration check of this kind (once, by the module that defines its base class)."""
        if self._check is not None and self._check is not check:
            raise RuntimeError(f"{self.kind}: a contract is already installed")
        self._check = check

    def register(self, name: str):
        def deco(obj):
            if name in self._items:
                raise RuntimeError(f"{self.kind} {name!r} registered twice")
            if self._check is None:
                raise RuntimeError(f"{self.kind} {name!r}: registered before the {self.kind} contract was installed "
                                   f"(import the kind's base module first)")
            check_signature(self.kind, name, obj)
            obj.registry_name = name
            self._check(name, obj)
            self._items[name] = obj
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
        """The keyword-only parameters of ``name``'s constructor: name -> inspect.Parameter (do not mutate)."""
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


@functools.lru_cache(maxsize=None)
def keyword_params(obj: Callable) -> Dict[str, inspect.Parameter]:
    """Keyword-only parameters of a class's ``__init__`` or a function, annotations resolved (markers kept).
    Memoised per constructor: read-only."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    sig = inspect.signature(target)
    hints = typing.get_type_hints(target, include_extras=True)
    out = {}
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            out[p.name] = p.replace(annotation=hints.get(p.name, p.annotation))
    return out


def domain_markers(annotation) -> tuple[type | None, list]:
    """``(number type, markers)`` of a numeric annotation (int or float, bare, Optional or a tuple of them),
    the markers gathered from every Annotated level; ``(None, [])`` for any other annotation."""
    markers = []
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            markers += [m for m in args[1:] if is_marker(m)]
            annotation = args[0]
        elif origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
            annotation = args[0] if args[1] is type(None) else args[1]
        elif origin in (tuple, list) and args:
            annotation = args[0]
        else:
            break
    return (annotation, markers) if annotation in (int, float) else (None, [])


def check_signature(kind: str, name: str, obj: Callable) -> None:
    """Every keyword-only parameter has an annotation and a default that the annotation accepts; every
    number (int or float, also inside Optional or a tuple) states its domain with a constraint marker."""
    for key, p in keyword_params(obj).items():
        where = f"{kind} {name!r} parameter {key!r}"
        if p.annotation is inspect.Parameter.empty:
            raise TypeError(f"{where} has no annotation")
        number, markers = domain_markers(p.annotation)
        if number is not None and not markers:
            raise TypeError(f"{where}: a number with no domain; annotate it Annotated[{number.__name__}, marker] "
                            f"(search_space.constraints: Positive, Width, Fraction, AnyFinite, ...)")
        if p.default is inspect.Parameter.empty:
            raise TypeError(f"{where} has no default")
        try:
            value = coerce(p.default, p.annotation, key)
        except AttnasError as e:
            raise TypeError(f"{where}: its default is rejected by its own annotation ({e})") from None
        if value != p.default:
            raise TypeError(f"{where}: default {p.default!r} is not in canonical form (coerces to {value!r})")


def check_factory(kind: str, name: str, factory, positional: tuple, cost: str, check_fits: str) -> None:
    """The registration check shared by factory kinds (connections, gatings): a function with these positional
    arguments, carrying ``cost`` (a callable) and ``check_fits`` (None or a callable) attributes."""
    where = f"{kind} {name!r}"
    if not callable(factory) or inspect.isclass(factory):
        raise TypeError(f"{where} must be a factory function")
    found = [p.name for p in inspect.signature(factory).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    if tuple(found) != tuple(positional):
        raise TypeError(f"{where}: positional arguments {found} must be {list(positional)}")
    if not callable(vars(factory).get("cost")):
        raise TypeError(f"{where}: the factory must carry {cost}")
    if "check_fits" not in vars(factory) or not (factory.check_fits is None or callable(factory.check_fits)):
        raise TypeError(f"{where}: the factory must carry check_fits (None, or {check_fits})")


def _shown(value) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def coerce(value: Any, annotation: Any, field: str) -> Any:
    """Check ``value`` against an annotation (int, float, str, bool, Literal, tuple, Optional, Annotated with
    constraint markers) and return it in canonical form (lists as tuples, whole floats given for ints as ints, an
    alias as the value it names: :class:`search_space.constraints.Aliases`)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is inspect.Parameter.empty or annotation is Any:
        return value
    if origin is typing.Annotated:
        value = coerce(value, args[0], field)
        for marker in args[1:]:
            if is_marker(marker) and value is not None and not marker.ok(value):
                raise AttnasError(f"{field}: {_shown(value)} is not allowed; allowed: {marker.allowed}")
        for alias in args[1:]:
            if isinstance(alias, Aliases):
                value = alias.canonical(value)
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
        if type(None) in args and errors and "; allowed: " in errors[0]:
            head, allowed = errors[0].split("; allowed: ", 1)
            raise AttnasError(f"{head}; allowed: null or {allowed}")
        raise AttnasError(errors[0] if errors else f"{field}: {value!r} is not allowed")
    if origin is typing.Literal:
        if value not in args or isinstance(value, bool) != isinstance(args[0], bool):
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: {', '.join(map(str, args))}")
        return value
    if origin in (tuple, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: a list")
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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AttnasError(f"{field}: {value!r} is not allowed; allowed: a finite number")
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
