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

from functools import partial

from ..registry import CONNECTIONS, check_factory

POSITIONAL = ("attention_module", "state", "shapes")

check_connection = partial(check_factory, "connection", positional=POSITIONAL, cost="cost(t, params, attention_type, dims, shapes, last)",
                           check_fits="check_fits(attention, params)")

CONNECTIONS.contract(check_connection)
