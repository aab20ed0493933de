"""NER in a process of its own, so the rest of extract runs beside it.

On two cores, spaCy's NER keeps one core busy. Run in the extract stage's own process it also
serialises everything else behind it (entity collection, content words, agreement-name scans),
which on news costs about a third of NER's time again. Here NER runs in one child process,
fed chunks of texts a few ahead, while the stage's process consumes the results as they come
back: extract then takes about NER's time plus a short tail, which is what the benchmark's
"pipeline ÷ NER alone" ratio asks for.

- One worker process per (model, batch size, n_process), started on first use (or early by
  `start`, so the model loads while fetch and clean run) and kept for later runs of this
  process. It is recycled after `RECYCLE_AFTER_CHUNKS` chunks because spaCy's string store grows
  with every new word it sees, and a long-lived `serve` process must not grow without bound.
- After a large batch (`RELEASE_AFTER_TEXTS` texts or more) the child is stopped as soon as the
  batch's last result is in. Its string store has grown by the batch's vocabulary (on 2,225 BBC
  articles, 171 → 306 MB), and the rest of the run (entity resolution, events, stories, staging,
  validation) has no use for it. The next batch starts a fresh one, whose model loads beside
  fetch and clean. Small batches, the usual scheduled run, keep the child warm.
- The child imports only spaCy and `flows.stages.extract.nlp`; results come back as the small
  `NerResult` records (spans and offsets), never as spaCy Docs.
- A text that makes spaCy fail comes back as a `NerFailure` naming the error; the others in its
  chunk still go through. A model that does not load raises in the caller, as in-process NER does.
- Where a child process cannot be started (inside a daemonic process such as a Dask worker) or
  dies, NER falls back to this process, with a warning.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from flows.stages.extract.nlp import NerResult, load_nlp, run_ner

log = logging.getLogger("wirelake.extract")

# Texts per job sent to the child: large enough that pickling and hand-over are noise,
# small enough that the first results come back within a second or two.
CHUNK_TEXTS = 48
# Jobs queued ahead of the one being consumed: keeps the child busy while this process works.
JOBS_AHEAD = 3
# A fresh child after this many jobs (~24k texts): bounds the growth of spaCy's string store.
RECYCLE_AFTER_CHUNKS = 500
# A batch of at least this many texts stops the child when its NER is done (see above).
RELEASE_AFTER_TEXTS = 1000
# How often the child checks that its parent is still alive.
PARENT_CHECK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class NerFailure:
    """spaCy raised on this text; `error` is one line naming the exception."""

    error: str


def ner_chunk(model: str, texts: Sequence[str], batch_size: int, n_process: int) -> list[NerResult | NerFailure]:
    """NER for one chunk (runs in the child); a failing chunk is redone text by text."""
    nlp = load_nlp(model)  # a missing model raises here, and the caller sees the ValueError
    try:
        return list(run_ner(nlp, texts, batch_size, n_process))
    except Exception:  # noqa: BLE001 - isolate the text that fails; the others still go through
        out: list[NerResult | NerFailure] = []
        for text in texts:
            try:
                out.append(next(run_ner(nlp, [text], 1, 1)))
            except Exception as exc:  # noqa: BLE001
                out.append(NerFailure(f"{type(exc).__name__}: {exc}"))
        return out


def _load_only(model: str) -> None:
    load_nlp(model)


def _child_init(parent_pid: int) -> None:
    """In the child: exit as soon as the parent is gone.

    A parent killed outright (SIGKILL, OOM) cannot shut the pool down, and the child would
    live on holding the parent's stdout/stderr open, so whoever waits for those to close
    (a scheduler, a test harness) would wait forever.
    """
    import os
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="wirelake-ner-parent-watch", daemon=True).start()


class NerProcess:
    """A one-process pool running `ner_chunk`, created lazily."""

    def __init__(self, model: str, batch_size: int, n_process: int) -> None:
        self.model, self.batch_size, self.n_process = model, batch_size, n_process
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=RECYCLE_AFTER_CHUNKS,
                    initializer=_child_init,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def start(self) -> None:
        """Start the child and load the model now, without waiting for it."""
        self._executor().submit(_load_only, self.model)

    def results(self, texts: Sequence[str]) -> Iterator[NerResult | NerFailure]:
        """One result per text, in order, with up to `JOBS_AHEAD` chunks queued in the child.

        The first chunks are submitted before this returns, so the child starts while the
        caller does other work before reading the first result.
        """
        chunks = [texts[i : i + CHUNK_TEXTS] for i in range(0, len(texts), CHUNK_TEXTS)]
        pool = self._executor()
        pending: deque[Future] = deque()

        def fill(next_chunk: int) -> int:
            while next_chunk < len(chunks) and len(pending) < JOBS_AHEAD:
                pending.append(pool.submit(ner_chunk, self.model, chunks[next_chunk], self.batch_size,
                                           self.n_process))
                next_chunk += 1
            return next_chunk

        def drain(next_chunk: int) -> Iterator[NerResult | NerFailure]:
            while pending:
                done = pending.popleft().result()
                next_chunk = fill(next_chunk)
                yield from done

        return drain(fill(0))

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_PROCESSES: dict[tuple[str, int, int], NerProcess] = {}
_PROCESSES_LOCK = threading.Lock()


def can_use_child_process() -> bool:
    """Daemonic processes (Dask's workers, for one) may not start children."""
    return not multiprocessing.current_process().daemon


def ner_process(model: str, batch_size: int, n_process: int) -> NerProcess:
    """The process-wide NER worker for this model and batching."""
    key = (model, batch_size, n_process)
    with _PROCESSES_LOCK:
        if key not in _PROCESSES:
            _PROCESSES[key] = NerProcess(*key)
        return _PROCESSES[key]


def in_child_process(model: str, texts: Sequence[str], batch_size: int,
                     n_process: int) -> Iterator[NerResult | NerFailure]:
    """`texts` through the NER child (submitted now); on a dead child, the rest in this process."""
    worker = ner_process(model, batch_size, n_process)
    try:
        stream = worker.results(texts)
    except BrokenProcessPool:  # the child died between runs; the next run gets a fresh one
        worker.close()
        stream = worker.results(texts)

    def with_fallback() -> Iterator[NerResult | NerFailure]:
        done = 0
        try:
            for result in stream:
                done += 1
                yield result
        except BrokenProcessPool as exc:
            log.warning("spaCy's NER process died (%s); NER for the %d remaining texts runs in this "
                        "process", exc, len(texts) - done)
            worker.close()
            yield from in_this_process(model, texts[done:], batch_size, n_process)
            return
        if len(texts) >= RELEASE_AFTER_TEXTS:
            worker.close()

    return with_fallback()


def in_this_process(model: str, texts: Sequence[str], batch_size: int,
                    n_process: int) -> Iterator[NerResult | NerFailure]:
    for start in range(0, len(texts), CHUNK_TEXTS):
        yield from ner_chunk(model, texts[start : start + CHUNK_TEXTS], batch_size, n_process)


def start(model: str, batch_size: int, n_process: int) -> None:
    """Start the NER child now (the model loads while earlier stages run); no-op where it cannot run."""
    if can_use_child_process():
        ner_process(model, batch_size, n_process).start()
