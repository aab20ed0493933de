"""Stage progress, reported to whoever listens (the CLI draws a progress bar).

The flow calls `stage_started`/`stage_finished`; by default nobody listens. The CLI
installs a listener for the duration of one run with `listening(...)`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

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
    if (listener := _listener.get()) is not None:
        listener.stage_started(stage, rows_in)


def stage_finished(stage: str, rows_out: int | None = None) -> None:
    if (listener := _listener.get()) is not None:
        listener.stage_finished(stage, rows_out)
