"""No connection: every attention block learns on its own (the vanilla network)."""
from ..registry import CONNECTIONS
from . import base  # noqa: F401  (installs the connection contract)


def no_connection(attention_module, state, shapes):
    return attention_module


no_connection.cost = lambda t, params, attention_type, dims, shapes, last: None
no_connection.check_fits = None
CONNECTIONS.register("none")(no_connection)
