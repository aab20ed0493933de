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
# Pages per interleaved slice of the HTML measure: ~0.2 s of work per side (see html_path).
HTML_SLICE_PAGES = 10


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


def _time_trafilatura(pages: Sequence[HtmlPage], *, with_metadata: bool = False) -> tuple[float, float, int]:
    import trafilatura

    started, cpu_before = time.perf_counter(), time.process_time()
    extracted = sum(1 for page in pages
                    if trafilatura.extract(page.html, include_comments=False, with_metadata=with_metadata))
    return time.perf_counter() - started, time.process_time() - cpu_before, extracted


def _time_clean(items: list, cfg) -> tuple[float, float, int, int]:
    from flows.stages.clean import clean_items

    started, cpu_before = time.perf_counter(), time.process_time()
    articles, rejects = clean_items(items, cfg)
    return time.perf_counter() - started, time.process_time() - cpu_before, len(articles), len(rejects)


def html_path(pages: Sequence[HtmlPage], rounds: int = 2) -> dict[str, Any]:
    """Pages/s of trafilatura alone, of trafilatura with its metadata step (title, author,
    date, site: what the clean stage also gives), and of our clean stage on the same pages.

    This host's speed drifts by a third over tens of seconds, more than the margin being
    measured, so whole passes taken one after the other compare two different machines. The
    two are therefore interleaved slice by slice (`HTML_SLICE_PAGES` pages: trafilatura then
    clean, or clean then trafilatura, the order alternating), `rounds` times over, and each
    side's time is the sum over slices of its best round. Both sides of a slice run within a
    second or two of each other. `seconds` lists each round's total. The clean stage learns a source's
    recurring lines per batch, here per slice: that step costs milliseconds either way.
    """
    from flows.config import CleanConfig

    cfg = CleanConfig()
    items = html_items(pages)
    _time_trafilatura(pages[:HTML_WARMUP_PAGES], with_metadata=True)
    _time_clean(items[:HTML_WARMUP_PAGES], cfg)
    slices = [slice(start, start + HTML_SLICE_PAGES) for start in range(0, len(pages), HTML_SLICE_PAGES)]
    sides = ("trafilatura", "trafilatura_metadata", "clean")
    # side -> slice -> one (wall, cpu) per round
    times: dict[str, list[list[tuple[float, float]]]] = {side: [[] for _ in slices] for side in sides}
    extracted = articles = rejects = 0
    for round_number in range(rounds):
        extracted = articles = rejects = 0
        for index, part in enumerate(slices):
            # The order rotates so that no side always runs first (or last) in a slice.
            shift = (round_number + index) % len(sides)
            for which in sides[shift:] + sides[:shift]:
                if which.startswith("trafilatura"):
                    seconds, cpu, got = _time_trafilatura(pages[part],
                                                          with_metadata=which == "trafilatura_metadata")
                    extracted += got if which == "trafilatura" else 0
                else:
                    seconds, cpu, kept, rejected = _time_clean(items[part], cfg)
                    articles, rejects = articles + kept, rejects + rejected
                times[which][index].append((seconds, cpu))
    return {
        "pages": len(pages), "rounds": rounds, "slice_pages": HTML_SLICE_PAGES,
        "trafilatura": {"call": "trafilatura.extract(html, include_comments=False)",
                        **_rates(len(pages), times["trafilatura"]), "extracted": extracted},
        "trafilatura_metadata": {"call": "trafilatura.extract(html, include_comments=False, with_metadata=True)",
                                 **_rates(len(pages), times["trafilatura_metadata"])},
        "clean": {"call": "flows.stages.clean.clean_items(items, CleanConfig()), per slice",
                  **_rates(len(pages), times["clean"]), "articles": articles, "rejects": rejects},
    }


def _rates(pages: int, per_slice: list[list[tuple[float, float]]]) -> dict[str, Any]:
    """Per-round totals, and the sum over slices of each slice's best round (wall and CPU)."""
    rounds = len(per_slice[0]) if per_slice else 0
    seconds = [round(sum(times[r][0] for times in per_slice), 3) for r in range(rounds)]
    cpu = [round(sum(times[r][1] for times in per_slice), 3) for r in range(rounds)]
    best = round(sum(min(wall for wall, _ in times) for times in per_slice), 3)
    best_cpu = round(sum(min(c for _, c in times) for times in per_slice), 3)
    return {"seconds": seconds, "best_seconds": best,
            "pages_per_second": round(pages / best, 3) if best > 0 else None,
            "cpu_seconds": cpu, "best_cpu_seconds": best_cpu,
            "pages_per_cpu_second": round(pages / best_cpu, 3) if best_cpu > 0 else None}
