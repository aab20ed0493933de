"""cluster_stories (sparse, tiled) against a plain all-pairs reference written here.

The reference compares every pair with the pure-Python formula; the module finds candidate pairs
with sparse products and scores them tile by tile. Both must give every article the same story.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from flows.records import content_key
from flows.stages.extract import stories
from flows.stages.extract.stories import (
    MAX_ENTITY_SHARE,
    PriorStory,
    StoryFeatures,
    cluster_stories,
    content_words,
)

pytestmark = pytest.mark.unit

START = datetime(2024, 3, 1, tzinfo=UTC)
WORDS = [f"w{k:03d}" for k in range(240)]
ENTITIES = [f"Q{k}" for k in range(90)]


def random_features(seed: int, n: int = 300) -> list[StoryFeatures]:
    """Articles drawn from topics (shared core entities and words) plus noise.

    Times fall on whole days or half days of a 60-day span, so many pairs are exactly 14 days
    apart (the window's edge) and many share a timestamp. "wire" is in about 40% of articles,
    too common to link anything; a few articles have no entities, no words or zero counts.
    """
    rng = random.Random(seed)
    topics = [
        (rng.sample(ENTITIES, rng.randint(2, 5)), rng.sample(WORDS, 18), rng.uniform(0, 50))
        for _ in range(35)
    ]
    features = []
    for i in range(n):
        core_entities, core_words, day = rng.choice(topics)
        entities: Counter = Counter()
        for entity in rng.sample(core_entities, rng.randint(1, len(core_entities))):
            entities[entity] = rng.choice([1, 1, 1, 2, 3, 7])
        for entity in rng.sample(ENTITIES, rng.randint(0, 4)):
            entities[entity] += rng.randint(1, 3)
        if rng.random() < 0.4:
            entities["wire"] = rng.randint(1, 4)
        if rng.random() < 0.03:
            entities[rng.choice(ENTITIES)] = 0
        if rng.random() < 0.03:
            entities = Counter()
        words = Counter(
            {w: rng.randint(1, 6) for w in rng.sample(core_words, rng.randint(4, 18))}
            | {w: rng.randint(1, 3) for w in rng.sample(WORDS, rng.randint(0, 30))}
        )
        if rng.random() < 0.03:
            words = Counter()
        seen_at = START + timedelta(days=round(day + rng.choice([0, 0, 1, 3, 10, 14, 14.5, 20]) * 2) / 2)
        events = {f"ev{rng.randint(0, 9)}"} if rng.random() < 0.05 else set()
        title = " ".join(rng.sample(core_words, 4))
        features.append(StoryFeatures(f"art{seed}-{i:04d}", title, seen_at, entities, words, events))
    rng.shuffle(features)
    return features


def random_prior(seed: int, features: list[StoryFeatures]) -> list[PriorStory]:
    rng = random.Random(seed + 1000)
    prior = []
    for k in range(25):
        sample = rng.sample(features, 3)
        kind = k % 4
        first = min(f.seen_at for f in sample) + timedelta(days=rng.choice([-30, -10, 0, 5]))
        prior.append(
            PriorStory(
                story_id=f"prior-{k}",
                title=sample[0].title,
                first_seen=first,
                last_seen=first + timedelta(days=rng.choice([0, 2, 9])) if kind != 3 else None,
                article_ids={sample[0].article_id} if kind == 0 else {f"old-{k}"},
                titles=[f.title for f in sample] if kind != 1 else [],
                entities=set().union(*(set(f.entities) for f in sample)) if kind != 2 else set(),
                events={f"ev{k % 10}"} if kind == 1 else set(),
            )
        )
    return prior


def reference_score(a: StoryFeatures, b: StoryFeatures) -> float:
    keys = set(a.entities) | set(b.entities)
    lo = sum(min(a.entities[k], b.entities[k]) for k in keys)
    hi = sum(max(a.entities[k], b.entities[k]) for k in keys)
    jaccard = lo / hi if hi else 0.0
    dot = sum(v * b.words[k] for k, v in a.words.items())
    norm_a = math.sqrt(sum(v * v for v in a.words.values()))
    norm_b = math.sqrt(sum(v * v for v in b.words.values()))
    cos = dot / (norm_a * norm_b) if norm_a * norm_b else 0.0
    return 0.5 * jaccard + 0.5 * cos


def reference_prior(members, prior, window, threshold):
    ids = {f.article_id for f in members}
    events = set().union(*(f.events for f in members))
    entities = set().union(*(set(f.entities) for f in members))
    titles = sum((content_words(f.title) for f in members), Counter())
    earliest, latest = min(f.seen_at for f in members), max(f.seen_at for f in members)
    best, best_score = None, 0.0
    for story in prior:
        if story.article_ids & ids:
            return story.story_id
        if events & story.events:
            score = 2.0
        else:
            last, first = story.last_seen or story.first_seen, story.first_seen or story.last_seen
            if last is None or earliest - last > window or first - latest > window:
                continue
            prior_titles = sum((content_words(t) for t in story.titles), Counter())
            overlap = len(entities & story.entities) / len(story.entities) if story.entities else 0.0
            score = 0.5 * stories.cosine(titles, prior_titles) + 0.5 * overlap
            if score < threshold:
                continue
        if score > best_score:
            best, best_score = story.story_id, score
    return best


def reference_clusters(features, prior, window_days, threshold) -> dict[str, str]:
    """Every pair, no index: linked when they share an event, or share a not-too-common entity,
    fall within the window and score at least the threshold."""
    n = len(features)
    window = timedelta(days=window_days)
    share = Counter(e for f in features for e in f.entities)
    limit = max(2, int(MAX_ENTITY_SHARE * n)) if n >= 20 else n
    component = list(range(n))

    def root(i):
        while component[i] != i:
            i = component[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            a, b = features[i], features[j]
            shares_entity = any(e in b.entities and share[e] <= limit for e in a.entities)
            close = abs(a.seen_at - b.seen_at) <= window
            if a.events & b.events or (shares_entity and close and reference_score(a, b) >= threshold):
                component[root(j)] = root(i)
    groups: dict[int, list[StoryFeatures]] = {}
    for i, f in enumerate(features):
        groups.setdefault(root(i), []).append(f)
    assignment = {}
    for members in groups.values():
        story = reference_prior(members, prior, window, threshold)
        if story is None:
            story = content_key("story", min(members, key=lambda f: (f.seen_at, f.article_id)).article_id)
        assignment.update(dict.fromkeys((f.article_id for f in members), story))
    return assignment


# Tile size, dense share, pair block and pending links set so that each way of scoring runs:
# the defaults; many small tiles, all scored by whole-tile products; all scored row by row in
# small blocks, with links folded often.
MODES = {
    "defaults": {},
    "small tiles, products": {"_TILE": 37, "_GRAM_SHARE": 0.0},
    "small tiles, rows": {"_TILE": 29, "_GRAM_SHARE": 2.0, "_PAIR_BLOCK": 50, "_PENDING_LINKS": 7},
}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("threshold", [0.2, 0.35, 0.5])
def test_same_stories_as_all_pairs_reference(seed, threshold, monkeypatch):
    features = random_features(seed)
    prior = random_prior(seed, features)
    expected = reference_clusters(features, prior, 14, threshold)
    sizes = Counter(Counter(expected.values()).values())
    assert sizes[1] < len(features) and max(sizes) > 2, "the data should form some multi-article stories"
    assert any(v.startswith("prior-") for v in expected.values()), "some components should join a prior story"
    for mode, knobs in MODES.items():
        with monkeypatch.context() as patch:
            for name, value in knobs.items():
                patch.setattr(stories, name, value)
            got = cluster_stories(features, prior, 14, threshold)
        assert got == expected, f"mode {mode!r}"


def test_same_stories_with_one_timestamp_and_a_short_window(monkeypatch):
    """All articles at one instant (like a corpus without dates), then a 1-day window on spread times."""
    features = random_features(7, n=200)
    same_time = [StoryFeatures(f.article_id, f.title, START, f.entities, f.words, f.events) for f in features]
    monkeypatch.setattr(stories, "_TILE", 41)
    assert cluster_stories(same_time, [], 14, 0.35) == reference_clusters(same_time, [], 14, 0.35)
    assert cluster_stories(features, [], 1, 0.3) == reference_clusters(features, [], 1, 0.3)


def test_a_too_common_entity_links_nothing():
    """Identical articles that share only an entity in more than 20% of the run stay apart."""
    same = [
        StoryFeatures(f"a{i}", "", START, Counter({"wire": 1}), Counter({"rates": 2, "bank": 1}))
        for i in range(25)
    ]
    apart = cluster_stories(same, [], 14, 0.35)
    assert len(set(apart.values())) == 25
    same[0].entities["rare"] = same[1].entities["rare"] = 1
    assert len(set(cluster_stories(same, [], 14, 0.35).values())) == 24


def test_negative_entity_count_is_refused():
    features = [
        StoryFeatures("a", "", START, Counter({"x": 1}), Counter({"w": 1})),
        StoryFeatures("b", "", START, Counter({"x": -1}), Counter({"w": 1})),
    ]
    with pytest.raises(ValueError, match="article b: negative entity count"):
        cluster_stories(features, [], 14, 0.35)
