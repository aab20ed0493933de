"""Scoring the extract stage against the project's own gold (tests/fixtures/gold/extract_gold.json).

`Score` counts true/false positives and negatives; `score_gold` compares one extraction result
with the gold file field by field. `flows/evaluate.py` (`make eval`) runs it and the shared corpora.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add_sets(self, predicted: set, gold: set) -> None:
        self.tp += len(predicted & gold)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)

    def as_dict(self) -> dict:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def score_gold(result, gold: dict) -> dict[str, Score]:
    """Compare an ExtractResult over the fixture articles with the gold file."""
    entities = {row["entity_id"]: row for row in result.entities.to_pylist()}
    evaluated_types = set(gold["evaluated_entity_types"])
    by_article: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in result.entity_mentions.to_pylist():
        entity = entities[row["entity_id"]]
        by_article[row["article_id"]].add((entity["name"], entity["type"]))
    scores = {
        name: Score()
        for name in (
            "entities",
            "canonical_names",
            "agreement_events",
            "signatories",
            "signers",
            "status",
            "story_clusters",
            "quotes",
            "quote_speakers",
        )
    }
    for article_id, spec in gold["articles"].items():
        optional = {o.casefold() for o in spec.get("optional", [])}
        predicted = {
            (n, t) for n, t in by_article[article_id] if t in evaluated_types and n.casefold() not in optional
        }
        gold_set = {(n, t) for n, t in spec["entities"]}
        scores["entities"].add_sets(predicted, gold_set)
        scores["canonical_names"].add_sets({n for n, _ in predicted}, {n for n, _ in gold_set})

    # quotes: a gold quote is found when a predicted quote starts with its first words
    speakers = {e["entity_id"]: e["name"] for e in entities.values()}
    quotes = defaultdict(list)
    for row in result.quotes.to_pylist():
        quotes[row["article_id"]].append((row["text"], speakers.get(row["speaker_entity_id"])))
    for article_id, spec in gold["articles"].items():
        predicted = quotes[article_id]
        matched = 0
        for gq in spec["quotes"]:
            hit = next((q for q in predicted if _norm(q[0]).startswith(_norm(gq["starts"]))), None)
            if hit is None:
                scores["quotes"].fn += 1
                scores["quote_speakers"].fn += 1
                continue
            matched += 1
            scores["quotes"].tp += 1
            if hit[1] == gq["speaker"]:
                scores["quote_speakers"].tp += 1
            else:
                scores["quote_speakers"].fp += 1
                scores["quote_speakers"].fn += 1
        scores["quotes"].fp += len(predicted) - matched

    # agreement events: match each gold event to a predicted AGREE event reported by the same articles
    events = [e for e in result.events.to_pylist() if e["event_type"] == "AGREE"]
    event_articles: dict[str, set[str]] = defaultdict(set)
    for row in result.event_mentions.to_pylist():
        event_articles[row["event_id"]].add(row["article_id"])
    used: set[str] = set()
    for g in gold["agreements"]:
        best, best_score = None, 0.0
        for e in events:
            if e["event_id"] in used:
                continue
            overlap = len(set(g["articles"]) & event_articles[e["event_id"]])
            if not overlap:
                continue
            score = overlap + 2 * len(set(g["signatories"]) & set(e["signatories"] or []))
            if g.get("name") and e["name"] and _norm(g["name"]) == _norm(e["name"]):
                score += 3
            if g.get("year") and e["event_date"] and e["event_date"].year == g["year"]:
                score += 2
            if score > best_score:
                best, best_score = e, score
        if best is None or not set(g["signatories"]) & set(best["signatories"] or []):
            scores["agreement_events"].fn += 1
            scores["signatories"].fn += len(g["signatories"])
            scores["signers"].fn += len(g["signers"])
            scores["status"].fn += 1
            continue
        used.add(best["event_id"])
        scores["agreement_events"].tp += 1
        scores["signatories"].add_sets(set(best["signatories"] or []), set(g["signatories"]))
        scores["signers"].add_sets(set(best["signers"] or []), set(g["signers"]))
        if best["status"] == g["status"]:
            scores["status"].tp += 1
        else:
            scores["status"].fp += 1
            scores["status"].fn += 1
    for e in events:
        if e["event_id"] not in used and event_articles[e["event_id"]] & set(gold["articles"]):
            scores["agreement_events"].fp += 1
            scores["signatories"].fp += len(e["signatories"] or [])
            scores["signers"].fp += len(e["signers"] or [])

    # stories: pairwise over articles
    predicted_story = {r["article_id"]: r["story_id"] for r in result.article_stories.to_pylist()}
    gold_story = {a: i for i, cluster in enumerate(gold["stories"]) for a in cluster}
    for a, b in combinations(sorted(gold_story), 2):
        same_gold = gold_story[a] == gold_story[b]
        same_pred = predicted_story.get(a) is not None and predicted_story.get(a) == predicted_story.get(b)
        if same_gold and same_pred:
            scores["story_clusters"].tp += 1
        elif same_pred:
            scores["story_clusters"].fp += 1
        elif same_gold:
            scores["story_clusters"].fn += 1
    return scores


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", re.sub(r"[’']", "'", text.casefold())).strip()
