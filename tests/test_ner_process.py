"""spaCy's NER in a child process (flows/stages/extract/ner_process.py): same results as in this
process, a failing text isolated, a dead child replaced, a missing model named."""

from __future__ import annotations

import os
import signal

import pytest

from flows.config import ExtractConfig
from flows.evaluate import load_fixture_articles
from flows.stages.extract import extract, load_nlp
from flows.stages.extract.ner_process import NerFailure, in_child_process, ner_chunk, ner_process
from flows.stages.extract.nlp import NerResult

pytestmark = pytest.mark.unit

CFG = ExtractConfig()
TEXTS = [
    "The harbour board in Valparaiso approved the dredging plan on Tuesday.",
    "Mirela Stoica, the union's treasurer, said the vote in Cluj was unanimous.",
    "Officials from Norway and Chile signed the Fjord Salmon Accord in Oslo.",
]


def _spans(result: NerResult) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.label) for e in result.entities]


@pytest.fixture(scope="module")
def nlp():
    return load_nlp(CFG.spacy_model)


def test_extract_through_the_child_equals_extract_in_this_process(nlp):
    articles = load_fixture_articles()
    here = extract(articles, CFG, nlp=nlp)
    child_cfg = CFG.model_copy(update={"ner_in_child_process": True})
    there = extract(articles, child_cfg)
    assert there.rejects == here.rejects == []
    for name, table in here.tables().items():
        assert there.tables()[name].to_pylist() == table.to_pylist(), name
    assert here.entity_mentions.num_rows > 50  # the fixtures do name people, places and states


def test_a_text_spacy_cannot_take_fails_alone(nlp):
    texts = [TEXTS[0], 42, TEXTS[2]]  # not a string: nlp.pipe raises for the whole batch
    local = ner_chunk(CFG.spacy_model, texts, CFG.batch_size, 1)
    child = list(in_child_process(CFG.spacy_model, texts, CFG.batch_size, 1))
    for results in (local, child):
        assert isinstance(results[1], NerFailure) and "int" in results[1].error
        assert [_spans(r) for r in (results[0], results[2])] == [
            _spans(next(iter(ner_chunk(CFG.spacy_model, [t], 16, 1)))) for t in (TEXTS[0], TEXTS[2])
        ]
        assert any(e.label == "GPE" for e in results[2].entities)


def test_a_killed_child_is_replaced_and_no_text_is_lost():
    worker = ner_process(CFG.spacy_model, CFG.batch_size, 1)
    expected = [_spans(r) for r in in_child_process(CFG.spacy_model, TEXTS, CFG.batch_size, 1)]
    pids = list(worker._executor()._processes)  # the live child that just did the work
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    # The pool notices the death either at the next submit (a fresh child) or while waiting for a
    # result (the rest runs in this process); either way every text comes back.
    again = [_spans(r) for r in in_child_process(CFG.spacy_model, TEXTS * 30, CFG.batch_size, 1)]
    assert again == expected * 30
    assert all(pid not in worker._executor()._processes for pid in pids)


def test_a_missing_model_is_named_by_the_child():
    with pytest.raises(ValueError, match="no_such_spacy_model_q"):
        list(in_child_process("no_such_spacy_model_q", TEXTS, 16, 1))


def test_the_child_exits_when_its_parent_is_killed(tmp_path):
    """A run killed outright (the crash tests' SIGKILL) must not leave spaCy's process behind."""
    import subprocess
    import sys

    import psutil

    script = tmp_path / "parent.py"
    script.write_text(
        "from flows.stages.extract.ner_process import in_child_process\n"
        "if __name__ == '__main__':\n"
        f"    list(in_child_process({CFG.spacy_model!r}, ['Oslo is cold.'], 16, 1))\n"
        "    print('ready', flush=True)\n"
        "    import time; time.sleep(600)\n",
        encoding="utf-8",
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert parent.stdout.readline().strip() == "ready"
        children = [c for c in psutil.Process(parent.pid).children() if "spawn_main" in " ".join(c.cmdline())]
        assert children, "no NER child process was started"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"NER child outlived its parent: {alive}"
        assert parent.stdout.read() == ""  # EOF: nobody holds the pipe open any more
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_large_batch_stops_the_child_and_a_small_one_keeps_it(monkeypatch):
    """The child's string store grows with a batch's vocabulary: after a large batch it is let go,
    and the next batch starts a fresh child with the same results."""
    import psutil

    from flows.stages.extract import ner_process as module

    monkeypatch.setattr(module, "RELEASE_AFTER_TEXTS", len(TEXTS) * 2)
    worker = ner_process(CFG.spacy_model, CFG.batch_size, 1)
    small = [_spans(r) for r in in_child_process(CFG.spacy_model, TEXTS, CFG.batch_size, 1)]
    kept = list(worker._executor()._processes)
    assert kept, "a small batch keeps its child"
    large = [_spans(r) for r in in_child_process(CFG.spacy_model, TEXTS * 2, CFG.batch_size, 1)]
    assert large == small * 2
    assert worker._pool is None, "the child is still held after a large batch"
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in kept if psutil.pid_exists(pid)], timeout=10)
    assert alive == [], f"the released child is still running: {alive}"
    again = [_spans(r) for r in in_child_process(CFG.spacy_model, TEXTS, CFG.batch_size, 1)]
    assert again == small
    assert list(worker._executor()._processes), "the next batch has a fresh child"
