"""The study drops only the Ray/Tune messages it names as harmless, by their text, at the modules that write
them; every other record from those loggers reaches the handlers whole."""
import logging

import pytest

from studies.logs import (HARMLESS_SOURCES, HARMLESS_TUNE_MESSAGES, HARMLESS_WORKER_MESSAGES,
                          HARMLESS_WORKER_SOURCES, quiet_ray_logs, quiet_worker_logs)


class Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("quiet, sources, harmless", [
    (quiet_worker_logs, HARMLESS_WORKER_SOURCES, HARMLESS_WORKER_MESSAGES),
    (quiet_ray_logs, HARMLESS_SOURCES, HARMLESS_TUNE_MESSAGES),
])
def test_only_the_named_messages_are_dropped(quiet, sources, harmless):
    quiet()
    quiet()                                   # idempotent: one filter per logger
    for name in sources:
        log = logging.getLogger(name)
        assert len(log.filters) == 1
        keep = Keep()
        log.addHandler(keep)
        old_level = log.level
        log.setLevel(logging.DEBUG)
        try:
            for message in harmless:
                log.info(f"{message}: /tmp/x/checkpoint_000001 (from {name})")
            log.info("Checkpoint restored from somewhere")          # near but not named: kept
            log.warning("something else went wrong")
        finally:
            log.removeHandler(keep)
            log.setLevel(old_level)
        assert keep.messages == ["Checkpoint restored from somewhere", "something else went wrong"]


def test_the_worker_line_is_the_one_ray_writes():
    """The text matched is Ray Train's own, at the module the worker's logger is named for."""
    import inspect

    import ray.train._internal.storage as storage

    assert "Checkpoint successfully created at" in inspect.getsource(storage)
    assert storage.__name__ in HARMLESS_WORKER_SOURCES
