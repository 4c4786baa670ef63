"""The one error type users see: it names the field, the value given and what is allowed."""


class AttnasError(ValueError):
    """A user-facing error; the CLI prints it as one line, without a traceback."""


def fail(field: str, value, allowed) -> "AttnasError":
    """Build the standard message: ``field: value is not allowed; allowed: ...``."""
    if isinstance(allowed, (list, tuple, set, frozenset)):
        allowed = ", ".join(str(a) for a in (sorted(allowed) if isinstance(allowed, (set, frozenset)) else allowed))
    return AttnasError(f"{field}: {value!r} is not allowed; allowed: {allowed}")


def check(condition: bool, field: str, value, allowed) -> None:
    """Raise :func:`fail` unless ``condition`` holds."""
    if not condition:
        raise fail(field, value, allowed)
