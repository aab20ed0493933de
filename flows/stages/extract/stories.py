"""Stories: articles about the same news story, from any outlet and any run, share a story_id.

Two articles of this run are linked when they were published within `story_window_days` of each
other and

    similarity = 0.5 * weighted Jaccard(entity counts) + 0.5 * cosine(content-word counts)

reaches `story_threshold`, or when both report the same named (or two-party) agreement; linked
articles form one story (connected components). A component joins a warehouse story when it shares
a canonical event with it, or when its title words and entities are similar enough to that story's
articles' titles and event entities within the window. Candidate pairs come from an inverted index
on entities, so a large run is not compared all against all.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flows.records import content_key

_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just more most my no
    nor not now of off on once only or other our out over own same she should so some such than that
    the their them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your said says say told year years
    new one two three last first next week month months would could people time like just many much
    well even still back since made make make
    """.split()  # noqa: SIM905 - a word list reads best as text
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]{2,}")
MAX_ENTITY_SHARE = 0.2  # entities in more than this share of a big run's articles do not block pairs


@dataclass
class StoryFeatures:
    article_id: str
    title: str
    seen_at: datetime
    entities: Counter  # entity_id -> mentions
    words: Counter  # content word -> count
    events: set[str] = field(default_factory=set)  # canonical event ids of named/two-party agreements


@dataclass
class PriorStory:
    story_id: str
    title: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    article_ids: set[str]
    titles: list[str]
    entities: set[str]
    events: set[str]


def content_words(text: str, limit: int = 400) -> Counter:
    words = (w.lower().strip("'’") for w in _WORD.findall(text))
    counts = Counter(w for w in words if w not in _STOPWORDS)
    return Counter(dict(counts.most_common(limit)))


def weighted_jaccard(a: Counter, b: Counter) -> float:
    keys = set(a) | set(b)
    if not keys:
        return 0.0
    num = sum(min(a[k], b[k]) for k in keys)
    den = sum(max(a[k], b[k]) for k in keys)
    return num / den if den else 0.0


def cosine(a: Counter, b: Counter) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def similarity(a: StoryFeatures, b: StoryFeatures) -> float:
    return 0.5 * weighted_jaccard(a.entities, b.entities) + 0.5 * cosine(a.words, b.words)


def cluster_stories(
    features: list[StoryFeatures],
    prior_stories: list[PriorStory],
    window_days: int,
    threshold: float,
) -> dict[str, str]:
    """article_id -> story_id for every article in `features`."""
    window = timedelta(days=window_days)
    parent = list(range(len(features)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    by_entity: dict[str, list[int]] = defaultdict(list)
    by_event: dict[str, list[int]] = defaultdict(list)
    for i, feat in enumerate(features):
        for entity_id in feat.entities:
            by_entity[entity_id].append(i)
        for event_id in feat.events:
            by_event[event_id].append(i)
    for members in by_event.values():
        for j in members[1:]:
            union(members[0], j)
    limit = max(2, int(MAX_ENTITY_SHARE * len(features))) if len(features) >= 20 else len(features)
    compared: set[tuple[int, int]] = set()
    for members in by_entity.values():
        if len(members) > limit:
            continue
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if (i, j) in compared or find(i) == find(j):
                    continue
                compared.add((i, j))
                a, b = features[i], features[j]
                if abs(a.seen_at - b.seen_at) <= window and similarity(a, b) >= threshold:
                    union(i, j)

    components: dict[int, list[int]] = defaultdict(list)
    for i in range(len(features)):
        components[find(i)].append(i)
    assignment: dict[str, str] = {}
    for members in components.values():
        feats = [features[i] for i in members]
        story_id = _prior_story_for(feats, prior_stories, window, threshold)
        if story_id is None:
            first = min(feats, key=lambda f: (f.seen_at, f.article_id))
            story_id = content_key("story", first.article_id)
        for feat in feats:
            assignment[feat.article_id] = story_id
    return assignment


def _prior_story_for(
    feats: list[StoryFeatures], prior_stories: list[PriorStory], window, threshold
) -> str | None:
    ids = {f.article_id for f in feats}
    events = set().union(*(f.events for f in feats))
    entities = set().union(*(set(f.entities) for f in feats))
    titles = Counter()
    for f in feats:
        titles.update(content_words(f.title or ""))
    earliest = min(f.seen_at for f in feats)
    latest = max(f.seen_at for f in feats)
    best, best_score = None, 0.0
    for story in prior_stories:
        if story.article_ids & ids:
            return story.story_id  # an article seen again keeps its story
        if events & story.events:
            score = 2.0
        else:
            last = story.last_seen or story.first_seen
            first = story.first_seen or story.last_seen
            if last is None or earliest - last > window or first - latest > window:
                continue
            prior_titles = Counter()
            for title in story.titles:
                prior_titles.update(content_words(title or ""))
            entity_overlap = (
                len(entities & story.entities) / max(len(story.entities), 1) if story.entities else 0.0
            )
            score = 0.5 * cosine(titles, prior_titles) + 0.5 * entity_overlap
            if score < threshold:
                continue
        if score > best_score:
            best, best_score = story.story_id, score
    return best
