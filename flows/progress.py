"""Stage progress, reported to whoever listens (the CLI draws a progress bar).

The flow calls `stage_started`/`stage_finished`; each goes to the Prefect run log at INFO,
and to a listener if one is installed: the CLI installs one for the duration of a run with
`listening(...)`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

from flows import ops_logging

STAGES: tuple[str, ...] = ("fetch", "clean", "dedup", "extract", "stage", "validate", "publish")


class ProgressListener(Protocol):
    def stage_started(self, stage: str, rows_in: int | None) -> None: ...
    def stage_finished(self, stage: str, rows_out: int | None) -> None: ...


_listener: ContextVar[ProgressListener | None] = ContextVar("wirelake_progress", default=None)


@contextlib.contextmanager
def listening(listener: ProgressListener) -> Iterator[None]:
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def stage_started(stage: str, rows_in: int | None = None) -> None:
    ops_logging.stage_started(stage, rows_in)  # the Prefect run log, which the UI shows
    if (listener := _listener.get()) is not None:
        listener.stage_started(stage, rows_in)


def stage_finished(stage: str, rows_out: int | None = None) -> None:
    ops_logging.stage_finished(stage, rows_out)
    if (listener := _listener.get()) is not None:
        listener.stage_finished(stage, rows_out)
