"""No connection: every attention block learns on its own (the vanilla network)."""
from ..registry import CONNECTIONS


@CONNECTIONS.register("none")
def no_connection(module, state=None):
    return module
