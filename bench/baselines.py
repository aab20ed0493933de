"""What the pipeline is measured against: spaCy NER alone, and trafilatura alone.

Both run in the bench's own process, timed around the work only (model loading and
decompression are outside the clock): they are the bounds the pipeline should
approach, so they get every advantage.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench.corpora import HtmlPage
from bench.processes import cpu_seconds

# spaCy's first documents pay one-off costs (allocations, lazy tables); keep them off the clock.
NER_WARMUP_TEXTS = 5
HTML_WARMUP_PAGES = 3


def ner_components(nlp) -> list[str]:
    """`ner` and the components it listens to: what NER needs, nothing else.

    In en_core_web_sm the shared `tok2vec` feeds only the tagger and parser (NER has its
    own embedding layer), so this is just ["ner"] there; a model whose NER listens to a
    shared tok2vec or transformer keeps that too.
    """
    keep = {"ner"}
    for name, component in nlp.pipeline:
        if "ner" in (getattr(component, "listening_components", None) or ()):
            keep.add(name)
    return [name for name in nlp.pipe_names if name in keep]


def ner_only(texts: Sequence[str], model: str, n_process: int, batch_size: int) -> dict[str, Any]:
    """Articles/s of `nlp.pipe` with only NER (and what it needs) over `texts`."""
    import spacy

    load_started = time.perf_counter()
    full = spacy.load(model)
    if "ner" not in full.pipe_names:
        raise ValueError(f"spaCy model {model!r} has no 'ner' component; the NER baseline needs one")
    needed = ner_components(full)
    excluded = [name for name in full.pipe_names if name not in needed]
    del full
    nlp = spacy.load(model, exclude=excluded)
    load_seconds = time.perf_counter() - load_started
    for _ in nlp.pipe(texts[:NER_WARMUP_TEXTS]):
        pass
    started, cpu_before = time.perf_counter(), cpu_seconds("self") + cpu_seconds("children")
    entities = 0
    for doc in nlp.pipe(texts, n_process=n_process, batch_size=batch_size):
        entities += len(doc.ents)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds("self") + cpu_seconds("children") - cpu_before
    return {
        "model": model, "components": nlp.pipe_names, "excluded": excluded,
        "n_process": n_process, "batch_size": batch_size,
        "articles": len(texts), "characters": sum(len(t) for t in texts), "entities": entities,
        "load_seconds": round(load_seconds, 3), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
        "articles_per_second": round(len(texts) / seconds, 3) if seconds > 0 else None,
        "articles_per_cpu_second": round(len(texts) / cpu, 3) if cpu > 0 else None,
    }


def html_items(pages: Sequence[HtmlPage]):
    """The pages as the fetch stage would hand them to clean: one HTML item each."""
    from flows.records import Item, content_key

    fetched_at = datetime.now(UTC)
    return [Item(doc_id=content_key(page.page_id), source="article-extraction-benchmark",
                 uri=page.url or page.page_id, format="html", content=page.html, fetched_at=fetched_at,
                 url=page.url) for page in pages]


def _time_trafilatura(pages: Sequence[HtmlPage]) -> tuple[float, float, int]:
    import trafilatura

    started, cpu_before = time.perf_counter(), time.process_time()
    extracted = sum(1 for page in pages if trafilatura.extract(page.html, include_comments=False))
    return time.perf_counter() - started, time.process_time() - cpu_before, extracted


def _time_clean(items: list, cfg) -> tuple[float, float, int, int]:
    from flows.stages.clean import clean_items

    started, cpu_before = time.perf_counter(), time.process_time()
    articles, rejects = clean_items(items, cfg)
    return time.perf_counter() - started, time.process_time() - cpu_before, len(articles), len(rejects)


def html_path(pages: Sequence[HtmlPage], rounds: int = 2) -> dict[str, Any]:
    """Pages/s of trafilatura alone and of our clean stage on the same pages; best of `rounds`.

    The two alternate (and swap order every round) so neither always runs on a warmer or
    cooler machine.
    """
    from flows.config import CleanConfig

    cfg = CleanConfig()
    items = html_items(pages)
    _time_trafilatura(pages[:HTML_WARMUP_PAGES])
    _time_clean(items[:HTML_WARMUP_PAGES], cfg)
    trafilatura_seconds: list[float] = []
    clean_seconds: list[float] = []
    trafilatura_cpu: list[float] = []
    clean_cpu: list[float] = []
    extracted = articles = rejects = 0
    for round_number in range(rounds):
        order = ("trafilatura", "clean") if round_number % 2 == 0 else ("clean", "trafilatura")
        for which in order:
            if which == "trafilatura":
                seconds, cpu, extracted = _time_trafilatura(pages)
                trafilatura_seconds.append(round(seconds, 3))
                trafilatura_cpu.append(round(cpu, 3))
            else:
                seconds, cpu, articles, rejects = _time_clean(items, cfg)
                clean_seconds.append(round(seconds, 3))
                clean_cpu.append(round(cpu, 3))
    return {
        "pages": len(pages), "rounds": rounds,
        "trafilatura": {"call": "trafilatura.extract(html, include_comments=False)",
                        **_rates(len(pages), trafilatura_seconds, trafilatura_cpu), "extracted": extracted},
        "clean": {"call": "flows.stages.clean.clean_items(items, CleanConfig())",
                  **_rates(len(pages), clean_seconds, clean_cpu), "articles": articles, "rejects": rejects},
    }


def _rates(pages: int, seconds: list[float], cpu: list[float]) -> dict[str, Any]:
    best, best_cpu = min(seconds), min(cpu)
    return {"seconds": seconds, "best_seconds": best, "pages_per_second": round(pages / best, 3),
            "cpu_seconds": cpu, "pages_per_cpu_second": round(pages / best_cpu, 3) if best_cpu > 0 else None}
