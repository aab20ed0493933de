"""Text quality side by side with trafilatura, on the same bytes in the same run.

* main text: token F1 of the clean stage's `Article.text` against the article-extraction
  benchmark's gold `articleBody` (181 pages), and of `trafilatura.extract` on the same HTML;
* titles and bylines: exact-match rates of the clean stage's `Article.title`/`authors`
  against Readability.js's expected metadata on the readability test pages that look like
  real pages (the manifest's `likely_real_page`), and of `trafilatura.extract_metadata`.

Scoring follows the benchmark's README: per page, token precision and recall (multiset
overlap of whitespace tokens), averaged over pages; F1 from the two averages. A page a tool
returns nothing for scores precision 0 only when the gold is non-empty... as the benchmark
does, it counts as precision 1 / recall 0 (nothing wrong was said, everything was missed).

"Exact" titles are equal but for whitespace. Bylines are compared after the same light
normalisation on both sides, since the gold keeps the page's raw byline ("By JANE ROE\n
March 3") where a tool gives a name: whitespace collapsed, case folded, typographic quotes
and dashes as ASCII, a leading "By"/"Par"/"Von" dropped, and compared as sets of names
(split on "," ";" "&" "and").
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.corpora import CORPORA_DIR, HTML_GROUND_TRUTH, HtmlPage, missing

READABILITY_MANIFEST = Path("readability-test-pages") / "manifest.json"
# The measures formed here (bench/report.py TARGETS); the HTML speed one from html_path's figures.
QUALITY_MEASURES = ("html_metadata", "text_f1", "titles", "title_rate", "bylines")
_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                        "\u2014": "-", "\u00a0": " "})
_BY = re.compile(r"^(?:by|par|von|por)\b[:\s]*", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*(?:[,;&]|\band\b)\s*", re.IGNORECASE)


# ------------------------------------------------------------------ main text


def token_scores(predicted: str | None, gold: str) -> tuple[float, float]:
    """(precision, recall) of `predicted`'s whitespace tokens against `gold`'s."""
    gold_tokens = Counter(gold.split())
    predicted_tokens = Counter((predicted or "").split())
    if not predicted_tokens:
        return 1.0, 0.0 if gold_tokens else 1.0
    if not gold_tokens:
        return 0.0, 1.0
    overlap = sum((gold_tokens & predicted_tokens).values())
    return overlap / sum(predicted_tokens.values()), overlap / sum(gold_tokens.values())


def _summary(scores: list[tuple[float, float]]) -> dict[str, Any]:
    precision = sum(p for p, _ in scores) / len(scores)
    recall = sum(r for _, r in scores) / len(scores)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pages": len(scores), "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def main_text_f1(pages: Sequence[HtmlPage], corpora_dir: Path = CORPORA_DIR) -> dict[str, Any]:
    """Token F1 of the clean stage and of trafilatura against the benchmark's gold bodies."""
    import trafilatura

    from flows.config import CleanConfig
    from flows.stages.clean import clean_items

    truth = json.loads((corpora_dir / HTML_GROUND_TRUTH).read_text(encoding="utf-8"))
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    worst: list[tuple[float, str]] = []
    cfg = CleanConfig()
    for page in pages:
        gold = truth[page.page_id]["articleBody"]
        item = _item(page.page_id, page.html, page.url)
        articles, _ = clean_items([item], cfg)
        ours.append(token_scores(articles[0].text if articles else None, gold))
        theirs.append(token_scores(trafilatura.extract(page.html, include_comments=False), gold))
        worst.append((_f1(*ours[-1]) - _f1(*theirs[-1]), page.page_id))
    return {"wirelake": _summary(ours), "trafilatura": _summary(theirs),
            "most_behind": [f"{page_id[:12]} {gap:+.3f}" for gap, page_id in sorted(worst)[:5]]}


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _item(name: str, html: str, url: str | None):
    from flows.records import Item, content_key

    return Item(doc_id=content_key(name), source=name, uri=url or name, format="html", content=html,
                fetched_at=datetime.now(UTC), url=url)


# ------------------------------------------------------------------ titles and bylines


def readability_cases(corpora_dir: Path = CORPORA_DIR) -> list[dict[str, Any]]:
    """The manifest rows of the real-looking pages, each with its decompressed `html`."""
    manifest = json.loads((corpora_dir / READABILITY_MANIFEST).read_text(encoding="utf-8"))
    cases = []
    for row in manifest:
        if not row.get("likely_real_page"):
            continue
        path = corpora_dir / "readability-test-pages" / "pages" / row["name"] / "source.html.gz"
        cases.append({**row, "html": gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")})
    return cases


def same_title(predicted: str | None, gold: str | None) -> bool:
    """Equal but for whitespace: case, quotes and dashes count, as a reader sees them."""
    return bool(predicted and gold) and " ".join(predicted.split()) == " ".join(gold.split())


def same_byline(predicted: str | Sequence[str] | None, gold: str | None) -> bool:
    if not predicted or not gold:
        return False
    if isinstance(predicted, str):
        predicted = [predicted]
    return _names(" ; ".join(predicted)) == _names(gold)


def _plain(text: str) -> str:
    return " ".join(text.translate(_ASCII).split()).casefold()


def _names(byline: str) -> frozenset[str]:
    return frozenset(name for part in _NAME_SPLIT.split(_plain(byline)) if (name := _BY.sub("", part).strip()))


def title_byline_match(cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Exact titles and bylines of the clean stage and of trafilatura's metadata step."""
    import trafilatura

    from flows.config import CleanConfig
    from flows.stages.clean import clean_items

    # Metadata is what is measured here, so short pages are not rejected for length.
    cfg = CleanConfig(min_words=1)
    counts = Counter()
    misses: list[str] = []
    for case in cases:
        articles, _ = clean_items([_item(case["name"], case["html"], None)], cfg)
        article = articles[0] if articles else None
        meta = trafilatura.extract_metadata(case["html"])
        if case.get("title"):
            counts["titles"] += 1
            ours = same_title(article.title if article else None, case["title"])
            counts["wirelake_titles"] += ours
            counts["trafilatura_titles"] += same_title(meta.title if meta else None, case["title"])
            if not ours:
                misses.append(f"title {case['name']}: {article.title if article else None!r}")
        if case.get("byline"):
            counts["bylines"] += 1
            ours = same_byline(article.authors if article else None, case["byline"])
            counts["wirelake_bylines"] += ours
            counts["trafilatura_bylines"] += same_byline(meta.author if meta else None, case["byline"])
            if not ours:
                misses.append(f"byline {case['name']}: {article.authors if article else None!r}")
    result: dict[str, Any] = {"pages": len(cases)}
    for field in ("titles", "bylines"):
        total = counts[field]
        for side in ("wirelake", "trafilatura"):
            hits = counts[f"{side}_{field}"]
            result[f"{side}_{field}"] = {"exact": hits, "of": total,
                                         "rate": round(hits / total, 4) if total else None}
    result["wirelake_misses"] = misses
    return result


def text_quality(pages: Sequence[HtmlPage], corpora_dir: Path = CORPORA_DIR) -> dict[str, Any] | str:
    """Both measures, or a one-line reason when a corpus is absent."""
    for relative in (HTML_GROUND_TRUTH, READABILITY_MANIFEST):
        reason = missing(corpora_dir, relative)
        if reason:
            return reason
    return {"main_text": main_text_f1(pages, corpora_dir),
            "metadata": title_byline_match(readability_cases(corpora_dir))}


def quality_measures(names: Sequence[str], html: dict[str, Any] | None, quality: dict[str, Any] | None,
                     errors: dict[str, str]) -> dict[str, dict]:
    """The bench records of the quality measures in `names` (see bench/report.py)."""
    from bench import report

    out: dict[str, dict] = {}
    for name in names:
        if name == "html_metadata":
            if html is None or "trafilatura_metadata" not in html:
                out[name] = report.failed_measure(name, errors.get("html") or "HTML path not measured")
            else:
                out[name] = report.measure(
                    name, ("clean stage pages/s", html["clean"]["pages_per_second"]),
                    ("trafilatura with metadata pages/s", html["trafilatura_metadata"]["pages_per_second"]),
                    cpu_value=report.ratio(html["clean"].get("pages_per_cpu_second"),
                                           html["trafilatura_metadata"].get("pages_per_cpu_second")),
                    note="same interleaved slices as the html measure")
            continue
        if quality is None:
            out[name] = report.failed_measure(name, errors.get("quality") or "text quality not measured")
            continue
        main, meta = quality["main_text"], quality["metadata"]
        if name == "text_f1":
            out[name] = report.measure(name, ("clean stage F1", main["wirelake"]["f1"]),
                                       ("trafilatura F1", main["trafilatura"]["f1"]),
                                       note=f"{main['wirelake']['pages']} pages; precision/recall "
                                            f"{main['wirelake']['precision']}/{main['wirelake']['recall']} vs "
                                            f"{main['trafilatura']['precision']}/{main['trafilatura']['recall']}")
        elif name in ("titles", "bylines"):
            ours, theirs = meta[f"wirelake_{name}"], meta[f"trafilatura_{name}"]
            out[name] = report.measure(name, (f"clean stage exact {name}", ours["exact"]),
                                       (f"trafilatura exact {name}", theirs["exact"]),
                                       note=f"of {ours['of']} pages with a gold {name[:-1]}")
        elif name == "title_rate":
            titles = meta["wirelake_titles"]
            out[name] = report.measure(name, ("clean stage exact titles", titles["exact"]),
                                       ("pages with a gold title", titles["of"]))
    return out
