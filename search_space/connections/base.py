"""The connection contract: a registered connection is a factory

    factory(attention_module, state, shapes, *, params...) -> nn.Module

called by the builder for every block of the main attention, in build order (= forward order). ``state`` is the
model's ForwardState (a dict cleared at the start of every forward), ``shapes`` the attention class's
``dca_shapes`` at the block's site. The factory carries ``cost(t, params, attention_type, dims, shapes, last)``,
which adds one connected block's parameters and MACs to the tally ``t`` (``last``: per dimension, the previous
connected block's shapes, updated in place), so that estimate_cost needs no build, and ``check_fits``: None, or
``check_fits(attention: Component, params)`` raising AttnasError where the connection cannot join that attention.
"""
from __future__ import annotations

import inspect

from ..registry import CONNECTIONS

POSITIONAL = ("attention_module", "state", "shapes")


def check_connection(name: str, factory) -> None:
    where = f"connection {name!r}"
    if not callable(factory) or inspect.isclass(factory):
        raise TypeError(f"{where} must be a factory function")
    positional = [p.name for p in inspect.signature(factory).parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    if tuple(positional) != POSITIONAL:
        raise TypeError(f"{where}: positional arguments {positional} must be {list(POSITIONAL)}")
    if not callable(vars(factory).get("cost")):
        raise TypeError(f"{where}: the factory must carry cost(t, params, attention_type, dims, shapes, last)")
    if "check_fits" not in vars(factory) or not (factory.check_fits is None or callable(factory.check_fits)):
        raise TypeError(f"{where}: the factory must carry check_fits (None, or check_fits(attention, params))")


CONNECTIONS.contract(check_connection)
