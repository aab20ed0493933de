"""Quality gate: the extract stage's scores never fall below the pinned baseline
(tests/fixtures/gold/baseline.json). A change may raise the baseline; it must not silently lower it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.config import ExtractConfig
from flows.evaluate import GOLD_FILE, load_fixture_articles, run_evaluation, score_gold
from flows.stages.extract import extract, load_nlp

BASELINE = Path(__file__).resolve().parent / "fixtures" / "gold" / "baseline.json"
EPSILON = 0.005  # rounding in the stored scores; any real drop is larger


def _below_baseline(section_scores: dict[str, dict], prefix: str) -> list[str]:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))["scores"]
    drops = []
    for key, pinned in baseline.items():
        if not key.startswith(prefix + "/"):
            continue
        measured = section_scores[key.split("/", 1)[1]]
        for metric in ("precision", "recall", "f1"):
            if measured[metric] < pinned[metric] - EPSILON:
                drops.append(f"{key} {metric}: {measured[metric]:.3f} < baseline {pinned[metric]:.3f}")
    return drops


@pytest.mark.unit
def test_gold_scores_hold_the_baseline():
    cfg = ExtractConfig()
    result = extract(load_fixture_articles(), cfg, nlp=load_nlp(cfg.spacy_model))
    gold = json.loads(GOLD_FILE.read_text(encoding="utf-8"))
    scores = {name: s.as_dict() for name, s in score_gold(result, gold).items()}
    assert not _below_baseline(scores, "gold")


@pytest.mark.unit
def test_scoring_can_fail():
    """A result that finds nothing scores zero recall, so the gate above is not vacuous."""
    from flows.stages.extract import ExtractResult

    gold = json.loads(GOLD_FILE.read_text(encoding="utf-8"))
    scores = score_gold(ExtractResult.empty(), gold)
    assert scores["entities"].recall == 0 and scores["agreement_events"].recall == 0
    assert _below_baseline({n: s.as_dict() for n, s in scores.items()}, "gold")


@pytest.mark.quality
@pytest.mark.slow
def test_shared_corpora_scores_hold_the_baseline(shared_dir):
    report = run_evaluation(shared=True)
    drops = []
    for section in ("conll2003", "gum_news", "polnear"):
        if isinstance(report[section], str):
            pytest.skip(f"{section}: {report[section]}")
        drops += _below_baseline(report[section], section)
    assert not drops


@pytest.mark.unit
def test_looking_only_at_trigger_sentences_changes_no_row(monkeypatch):
    """extract finds each article's trigger sentences while NER runs and the event search then skips
    the rest; with that shortcut turned off (every sentence searched) every table is the same."""
    from flows.stages.extract import pipeline

    cfg = ExtractConfig()
    nlp = load_nlp(cfg.spacy_model)
    articles = load_fixture_articles()
    hot = pipeline.trigger_sentences
    counts: list[tuple[int, int]] = []  # (trigger sentences, sentences) per article

    def counting(text, sentences, gaz, known):
        found = hot(text, sentences, gaz, known)
        counts.append((len(found), len(sentences)))
        return found

    monkeypatch.setattr(pipeline, "trigger_sentences", counting)
    shortcut = extract(articles, cfg, nlp=nlp)
    assert shortcut.events.num_rows >= 5  # the fixtures hold agreements, meetings, exercises, policies
    assert 0 < sum(h for h, _ in counts) < sum(n for _, n in counts)  # the shortcut does skip sentences
    monkeypatch.setattr(pipeline, "trigger_sentences", lambda *args: None)
    every_sentence = extract(articles, cfg, nlp=nlp)
    for name, table in shortcut.tables().items():
        assert table.equals(every_sentence.tables()[name]), name
