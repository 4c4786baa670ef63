"""Shared by the search-space tests: values of every parameter of a registered module."""
from __future__ import annotations

import typing

import pytest

from search_space import AttnasError


def _unwrap(annotation):
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def candidates(spec) -> list:
    """The default of a keyword parameter, then alternatives to try (they may not all validate)."""
    d, ann = spec.default, _unwrap(spec.annotation)
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Literal:
        return [d] + [a for a in args if a != d]
    if origin is typing.Union and type(None) in args:
        return [d, None, 3, 5, 7]
    if ann is bool:
        return [d, not d]
    if ann is int:
        return [d, d + 2, d * 2, 1, 3, 0]
    if ann is float:
        return [d, d / 2 if d else 0.5, 0.25]
    if origin in (tuple, list):
        d = tuple(d)
        return [d, d[::-1], d[:1], d[1:]]
    return [d]


def valid_values(registry, name: str, param: str) -> list:
    """The candidates of ``name``'s ``param`` that validate on their own (others at their defaults)."""
    out = []
    for v in candidates(registry.param_specs(name)[param]):
        value = list(v) if isinstance(v, tuple) else v
        if value in out:
            continue
        try:
            registry.params(name, {param: value}, "t")
        except AttnasError:
            continue
        out.append(value)
    return out


@pytest.fixture(scope="session")
def module_values():
    """``module_values(registry, name, limit=2)``: per parameter of ``name`` (with more than one valid value),
    its default and the first alternatives that validate on their own (a Literal gets one more)."""
    def values(registry, name: str, limit: int = 2) -> dict:
        out = {}
        for param, spec in registry.param_specs(name).items():
            vals = valid_values(registry, name, param)
            vals = vals[: limit + (typing.get_origin(_unwrap(spec.annotation)) is typing.Literal)]
            if len(vals) > 1:
                out[param] = vals
        return out
    return values


@pytest.fixture(scope="session")
def param_values():
    """``param_values(registry, name, param)``: every candidate value of one parameter that validates."""
    return valid_values
