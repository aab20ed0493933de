"""`make eval`: precision / recall / F1 of the extract stage.

On the project's own gold (tests/fixtures/extract + tests/fixtures/gold/extract_gold.json): entities,
canonical names, agreement events, signatories, signers, status, story clusters, quotes. When
../shared is present, also NER on a CoNLL-2003 sample, entities + links on GUM news and direct-quote
attribution on PolNeAR (each kept to a few seconds; skipped with a message when absent).

Prints a table and writes bench/results/eval-latest.json. Always exits 0: the gate is the pinned
baseline test (tests/test_extract_quality.py), not this report.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import tarfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flows.config import ExtractConfig
from flows.evaluate_gold import Score, score_gold  # noqa: F401 - score_gold: `make eval` and its tests use it from here
from flows.records import Article, sha256_hex

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = ROOT / "tests" / "fixtures" / "extract"
GOLD_FILE = ROOT / "tests" / "fixtures" / "gold" / "extract_gold.json"
RESULTS_FILE = ROOT / "bench" / "results" / "eval-latest.json"
CONLL_SENTENCES = 300
GUM_DOCUMENTS = 12
POLNEAR_ARTICLES = 25


# ------------------------------------------------------------------------------------------------------
# fixtures


def load_fixture_articles(directory: Path = FIXTURES) -> list[Article]:
    """Articles from `key: value` header + `---` + body files; the file stem is the article_id."""
    articles = []
    for path in sorted(directory.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        header, sep, body = raw.partition("\n---\n")
        if not sep:
            raise ValueError(f"fixture {path}: no '---' line between header and body; add one")
        meta = dict(line.split(": ", 1) for line in header.splitlines() if ": " in line)
        published = datetime.fromisoformat(meta["published_at"]) if meta.get("published_at") else None
        text = body.strip("\n")
        articles.append(
            Article(
                article_id=path.stem,
                doc_id=sha256_hex(raw)[:24],
                source=meta["source"],
                url=meta.get("url"),
                title=meta.get("title"),
                author=None,
                published_at=published,
                language="en",
                dateline=None,
                text=text,
                word_count=len(text.split()),
                content_hash=sha256_hex(text),
                fetched_at=published or datetime.fromisoformat("2024-01-01T00:00:00+00:00"),
            )
        )
    return articles


# ------------------------------------------------------------------------------------------------------
# shared corpora (read at run time, never copied)

_CONLL_MAP = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "LAW": "MISC",
}


def eval_conll(nlp, cfg: ExtractConfig) -> dict | str:
    from flows.stages.extract import extract

    path = SHARED / "corpora" / "conll2003-ner" / "eng.testb.gz"
    if not path.exists():
        return f"skipped: {path} not found"
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                if current:
                    sentences.append(current)
                    current = []
                    if len(sentences) >= CONLL_SENTENCES:
                        break
                continue
            current.append((parts[0], parts[-1]))
    # Twenty sentences to a pseudo-article, one sentence a line, tokens joined by spaces.
    articles, gold_by_article = [], {}
    for chunk_start in range(0, len(sentences), 20):
        text_parts, gold, pos = [], set(), 0
        for sentence in sentences[chunk_start : chunk_start + 20]:
            entity = None
            for token, tag in sentence:
                start = pos
                text_parts.append(token)
                pos += len(token) + 1
                if tag.startswith("B-"):
                    if entity:
                        gold.add(tuple(entity))
                    entity = [start, start + len(token), tag[2:]]
                elif tag.startswith("I-") and entity:
                    entity[1] = start + len(token)
                else:
                    if entity:
                        gold.add(tuple(entity))
                    entity = None
            if entity:
                gold.add(tuple(entity))
            text_parts[-1] += "\n"
        text = " ".join(text_parts).replace("\n ", "\n")
        article_id = f"conll-{chunk_start}"
        articles.append(_plain_article(article_id, text))
        gold_by_article[article_id] = gold
    result = extract(articles, cfg, nlp=nlp)
    score = Score()
    predicted: dict[str, set] = defaultdict(set)
    for row in result.entity_mentions.to_pylist():
        predicted[row["article_id"]].add(
            (row["start_char"], row["end_char"], _CONLL_MAP.get(row["label"], "MISC"))
        )
    for article_id, gold in gold_by_article.items():
        score.add_sets(predicted[article_id], gold)
    return {"ner_exact_typed": score.as_dict(), "sentences": len(sentences)}


def eval_gum(nlp, cfg: ExtractConfig) -> dict | str:
    from flows.stages.extract import extract

    path = SHARED / "corpora" / "gum-news" / "gum-news.jsonl"
    if not path.exists():
        return f"skipped: {path} not found"
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:GUM_DOCUMENTS]]
    articles = [_plain_article(d["id"], d["text"]) for d in docs]
    result = extract(articles, cfg, nlp=nlp)
    entities = {row["entity_id"]: row for row in result.entities.to_pylist()}
    gold_types = {"person": "PERSON", "organization": "ORG", "place": "LOC"}
    our_types = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
    detection, links = Score(), Score()
    mentions = defaultdict(list)
    for row in result.entity_mentions.to_pylist():
        entity = entities[row["entity_id"]]
        if entity["type"] in our_types:
            mentions[row["article_id"]].append((row["start_char"], row["end_char"], entity))
    for doc in docs:
        gold = [e for e in doc["entities"] if e.get("identity") and e["type"] in gold_types]
        ours = mentions[doc["id"]]
        matched_ours = set()
        for g in gold:
            hit = next(
                (
                    i
                    for i, (s, e, ent) in enumerate(ours)
                    if s < g["end"] and g["start"] < e and our_types[ent["type"]] == gold_types[g["type"]]
                ),
                None,
            )
            if hit is None:
                detection.fn += 1
                links.fn += 1
                continue
            matched_ours.add(hit)
            detection.tp += 1
            title = g["identity"].replace("_", " ").casefold()
            name = ours[hit][2]["name"].casefold()
            if name == title:
                links.tp += 1
            else:
                links.fp += 1
                links.fn += 1
        all_gold = doc["entities"]
        for i, (s, e, _) in enumerate(ours):
            if i in matched_ours:
                continue
            if not any(s < g["end"] and g["start"] < e for g in all_gold):
                detection.fp += 1
    return {
        "entities_linked_mentions": detection.as_dict(),
        "canonical_name_equals_wikipedia_title": links.as_dict(),
        "documents": len(docs),
    }


_QUOTE_CHARS = '“”"‘’'


def eval_polnear(nlp, cfg: ExtractConfig) -> dict | str:
    from flows.stages.extract import extract

    base = SHARED / "corpora" / "polnear-news"
    articles_path, ann_path = base / "polnear-articles.jsonl.gz", base / "polnear-attributions-brat.tar.gz"
    if not articles_path.exists() or not ann_path.exists():
        return f"skipped: {base} not complete"
    annotations: dict[str, str] = {}
    with tarfile.open(ann_path, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("test/") and member.name.endswith(".ann"):
                stem = Path(member.name).stem.rsplit("_", 1)[0]
                if stem not in annotations:
                    annotations[stem] = tar.extractfile(member).read().decode("utf-8")
            if len(annotations) >= POLNEAR_ARTICLES:
                break
    texts = {}
    with gzip.open(articles_path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            stem = record["id"].removeprefix("polnear-")
            if stem in annotations:
                texts[stem] = record["text"]
    articles = [_plain_article(stem, texts[stem]) for stem in sorted(texts)]
    result = extract(articles, cfg, nlp=nlp)
    entities = {row["entity_id"]: row for row in result.entities.to_pylist()}
    ours = defaultdict(list)
    for row in result.quotes.to_pylist():
        ours[row["article_id"]].append(
            (row["start_char"], row["end_char"], entities.get(row["speaker_entity_id"]))
        )
    quote_score, speaker_score = Score(), Score()
    for stem, text in texts.items():
        spans, events = _parse_brat(annotations[stem])
        gold = []
        for event in events:
            content, source = spans.get(event.get("Content")), spans.get(event.get("Source"))
            if content is None:
                continue
            start, end = content[0][0], content[-1][1]
            direct = (start > 0 and text[start - 1] in _QUOTE_CHARS) or text[
                start : start + 1
            ] in _QUOTE_CHARS
            all_contents = (start, end)
            gold.append((all_contents, source, direct))
        direct_gold = [g for g in gold if g[2]]
        matched = set()
        for (g_start, g_end), source, _ in direct_gold:
            hit = next((i for i, (s, e, _) in enumerate(ours[stem]) if s < g_end and g_start < e), None)
            if hit is None:
                quote_score.fn += 1
                speaker_score.fn += 1
                continue
            matched.add(hit)
            quote_score.tp += 1
            speaker = ours[stem][hit][2]
            source_text = " ".join(text[s:e] for s, e in source) if source else ""
            source_words = set(re.findall(r"[\w-]+", source_text.casefold()))
            # A pronoun source ("he said") cannot be checked without coreference gold: a person counts.
            pronoun = bool(source_words) and source_words <= {"he", "she", "they", "i", "we"}
            if speaker and (
                set(speaker["name"].casefold().split()) & source_words
                or (pronoun and speaker["type"] == "PERSON")
            ):
                speaker_score.tp += 1
            else:
                speaker_score.fp += 1 if speaker else 0
                speaker_score.fn += 1
        for i, (s, e, _) in enumerate(ours[stem]):
            if i not in matched and not any(s < g_end and g_start < e for (g_start, g_end), _, _ in gold):
                quote_score.fp += 1
    return {
        "direct_quotes": quote_score.as_dict(),
        "speakers": speaker_score.as_dict(),
        "articles": len(texts),
    }


def _parse_brat(ann: str) -> tuple[dict[str, list[tuple[int, int]]], list[dict[str, str]]]:
    spans, events = {}, []
    for line in io.StringIO(ann):
        parts = line.rstrip("\n").split("\t")
        if parts[0].startswith("T") and len(parts) >= 2:
            label_and_offsets = parts[1].split(" ", 1)
            if len(label_and_offsets) == 2:
                spans[parts[0]] = [
                    tuple(int(x) for x in piece.split()) for piece in label_and_offsets[1].split(";")
                ]
        elif parts[0].startswith("E") and len(parts) >= 2:
            events.append(dict(arg.split(":", 1) for arg in parts[1].split() if ":" in arg))
    return spans, events


def _plain_article(article_id: str, text: str) -> Article:
    when = datetime.fromisoformat("2020-01-01T00:00:00+00:00")
    return Article(
        article_id,
        article_id,
        "eval",
        None,
        None,
        None,
        when,
        "en",
        None,
        text,
        len(text.split()),
        sha256_hex(text),
        when,
    )


# ------------------------------------------------------------------------------------------------------


def run_evaluation(cfg: ExtractConfig | None = None, shared: bool = True) -> dict:
    from flows.stages.extract import extract, load_nlp

    cfg = cfg or ExtractConfig()
    nlp = load_nlp(cfg.spacy_model)
    gold = json.loads(GOLD_FILE.read_text(encoding="utf-8"))
    started = time.perf_counter()
    result = extract(load_fixture_articles(), cfg, nlp=nlp)
    report: dict = {
        "gold": {name: s.as_dict() for name, s in score_gold(result, gold).items()},
        "timings_seconds": {"gold": round(time.perf_counter() - started, 2)},
        "spacy_model": cfg.spacy_model,
    }
    if shared:
        for name, fn in (("conll2003", eval_conll), ("gum_news", eval_gum), ("polnear", eval_polnear)):
            started = time.perf_counter()
            try:
                report[name] = fn(nlp, cfg)
            except Exception as exc:  # a corpus that changed shape must not hide the other numbers
                report[name] = f"failed: {type(exc).__name__}: {exc}"
            report["timings_seconds"][name] = round(time.perf_counter() - started, 2)
    return report


def print_report(report: dict, out=sys.stdout) -> None:
    print(f"{'field':<42}{'precision':>10}{'recall':>10}{'f1':>8}", file=out)
    for section, values in report.items():
        if section in ("timings_seconds", "spacy_model"):
            continue
        if isinstance(values, str):
            print(f"{section}: {values}", file=out)
            continue
        for name, score in values.items():
            if isinstance(score, dict):
                print(
                    f"{section + '/' + name:<42}{score['precision']:>10.3f}"
                    f"{score['recall']:>10.3f}{score['f1']:>8.3f}",
                    file=out,
                )
    print(f"timings (s): {report['timings_seconds']}", file=out)


def main() -> int:
    report = run_evaluation()
    print_report(report)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
