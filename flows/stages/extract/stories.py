"""Stories: articles about the same news story, from any outlet and any run, share a story_id.

Two articles of this run are linked when they were published within `story_window_days` of each
other and

    similarity = 0.5 * weighted Jaccard(entity counts) + 0.5 * cosine(content-word counts)

reaches `story_threshold`, or when both report the same named (or two-party) agreement; linked
articles form one story (connected components). A component joins a warehouse story when it shares
a canonical event with it, or when its title words and entities are similar enough to that story's
articles' titles and event entities within the window. Only pairs sharing an entity that is in at
most MAX_ENTITY_SHARE of a big run's articles are scored, so a large run is not compared all against
all; they are found and scored with sparse matrix products over tiles of time-sorted articles.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from flows.records import content_key

if TYPE_CHECKING:
    from scipy import sparse

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
    components: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(_linked_components(features, window, threshold).tolist()):
        components[label].append(i)
    title_words: dict[int, Counter] = {}
    assignment: dict[str, str] = {}
    for members in components.values():
        feats = [features[i] for i in members]
        story_id = _prior_story_for(feats, prior_stories, window, threshold, title_words)
        if story_id is None:
            first = min(feats, key=lambda f: (f.seen_at, f.article_id))
            story_id = content_key("story", first.article_id)
        for feat in feats:
            assignment[feat.article_id] = story_id
    return assignment


# Pairs are scored tile by tile (articles sorted by time, _TILE per side) so memory stays bounded:
# one tile's products hold at most _TILE² values (8 MB dense at 1024).
_TILE = 1024
# A tile whose candidate pairs fill at least this share of its cells is scored with two sparse
# matrix products over the whole tile (~0.15 µs a cell on BBC articles); a sparser one pair by
# pair (~7 µs a pair).
_GRAM_SHARE = 0.02
_PAIR_BLOCK = 4096  # pairs scored row by row at once: ~40 MB of copied rows for 150-word articles
_PENDING_LINKS = 1_000_000  # links kept before they are folded into one link per article
_MICROSECOND = timedelta(microseconds=1)


def _linked_components(features: list[StoryFeatures], window: timedelta, threshold: float) -> np.ndarray:
    """Component label per article; articles are linked as the module docstring says.

    Candidate pairs are the article pairs sharing an entity that is not too common, found with a
    sparse product of the article-entity incidence matrix instead of pair by pair. Scores use the
    same arithmetic as `similarity`: with integer counts every sum is exact, so a score equals the
    pure-Python one bit for bit and the components are the same.
    """
    n = len(features)
    links = _Links(n)
    by_event: dict[str, list[int]] = defaultdict(list)
    for i, feat in enumerate(features):
        for event_id in feat.events:
            by_event[event_id].append(i)
    for members in by_event.values():
        links.add(np.full(len(members) - 1, members[0]), np.asarray(members[1:]))
    window_us = min(window // _MICROSECOND, 2**62)
    if n < 2 or window_us < 0:
        return links.labels()

    ref = features[0].seen_at
    times = np.array([(f.seen_at - ref) // _MICROSECOND for f in features], dtype=np.int64)
    order = np.argsort(times, kind="stable")  # row p of every matrix below is article order[p]
    ts = times[order]
    entities = _count_matrix([features[i].entities for i in order])
    words = _count_matrix([features[i].words for i in order])
    if entities.size and entities.data.min() < 0:  # sums of min below assume counts >= 0
        bad = next(f for f in features if min(f.entities.values(), default=0) < 0)
        raise ValueError(f"article {bad.article_id}: negative entity count; entity counts are mentions")
    entity_sums = entities.sum(axis=1)
    word_norms = np.sqrt(words.multiply(words).sum(axis=1))
    levels, level_weights = _count_levels(entities)

    # Entities in more than `limit` articles (or in only one) generate no pairs.
    limit = max(2, int(MAX_ENTITY_SHARE * n)) if n >= 20 else n
    df = np.bincount(entities.indices, minlength=entities.shape[1])
    linking = entities.copy()
    linking.data = ((df >= 2) & (df <= limit))[linking.indices].astype(np.float64)
    linking.eliminate_zeros()

    tiles = [slice(s, min(s + _TILE, n)) for s in range(0, n, _TILE)]
    # Tile slices are made when first needed and dropped when no later tile can use them: the
    # tiles within the window of one another, not copies of every matrix for the whole run.
    columns: dict[int, tuple] = {}

    def score(p, q, common, dot):
        total = entity_sums[p] + entity_sums[q]
        union = total - common  # sum of max = sum a + sum b - sum of min
        jaccard = np.divide(common, union, out=np.zeros_like(common), where=union != 0)
        norm = word_norms[p] * word_norms[q]
        cos = np.divide(dot, norm, out=np.zeros_like(dot), where=norm != 0)
        return 0.5 * jaccard + 0.5 * cos

    for a, rows in enumerate(tiles):
        link_row, word_row, weight_row = linking[rows], words[rows], level_weights[rows]
        for done in [b for b in columns if b < a]:  # row tiles only move forward
            del columns[done]
        for b in range(a, len(tiles)):
            cols = tiles[b]
            if ts[cols.start] - ts[rows.stop - 1] > window_us:
                break  # later tiles are later still
            if b not in columns:
                columns[b] = tuple(m[cols].T.tocsr() for m in (linking, words, levels))
            link_col, word_col, level_col = columns[b]
            shared = (link_row @ link_col).tocoo()
            r, c = shared.row, shared.col
            p, q = r + rows.start, c + cols.start
            keep = (q > p) & (ts[q] - ts[p] <= window_us)
            if not keep.any():
                continue
            r, c, p, q = r[keep], c[keep], p[keep], q[keep]
            if len(p) >= _GRAM_SHARE * (rows.stop - rows.start) * (cols.stop - cols.start):
                # dense tiles: a product's column indices come unsorted, and sampling those scans rows
                common = (weight_row @ level_col).toarray()[r, c]
                dot = (word_row @ word_col).toarray()[r, c]
                linked = score(p, q, common, dot) >= threshold
                links.add(order[p[linked]], order[q[linked]])
                continue
            for k in range(0, len(p), _PAIR_BLOCK):
                pb, qb = p[k : k + _PAIR_BLOCK], q[k : k + _PAIR_BLOCK]
                # min(x, y) = (x + y - |x - y|) / 2, summed over a row pair
                spread = abs(entities[pb] - entities[qb]).sum(axis=1)
                common = (entity_sums[pb] + entity_sums[qb] - spread) / 2
                dot = words[pb].multiply(words[qb]).sum(axis=1)
                linked = score(pb, qb, common, dot) >= threshold
                links.add(order[pb[linked]], order[qb[linked]])
    return links.labels()


def _count_matrix(counters: list[Counter]) -> sparse.csr_array:
    """Row i holds counters[i]; columns are keys in order of first appearance."""
    from scipy import sparse  # scipy loads on first use: importing the stage stays cheap
    keys = list(chain.from_iterable(counters))
    columns = {key: k for k, key in enumerate(dict.fromkeys(keys))}
    # int32 column indices (scipy's own choice below 2**31 entries) halve the index arrays
    index_type = np.int32 if len(columns) < 2**31 and len(keys) < 2**31 else np.int64
    indices = np.fromiter(map(columns.__getitem__, keys), dtype=index_type, count=len(keys))
    values = np.fromiter(chain.from_iterable(c.values() for c in counters), dtype=np.float64, count=len(keys))
    indptr = np.concatenate(([0], np.cumsum([len(c) for c in counters], dtype=index_type))).astype(index_type)
    matrix = sparse.csr_array((values, indices, indptr), shape=(len(counters), len(columns)))
    matrix.sort_indices()
    return matrix


def _count_levels(counts: sparse.csr_array) -> tuple[sparse.csr_array, sparse.csr_array]:
    """(levels, weights) with (weights @ levels.T)[i, j] = sum over k of min(counts[i, k], counts[j, k]).

    Sum of min is not a matrix product, but it is one over count levels: column k with the
    distinct positive values v1 < v2 < ... becomes one column per value, with weight v_t - v_(t-1),
    and a row has every level up to its own count. Two rows then share exactly the levels below
    their smaller count, whose weights add up to it (exactly, for integer counts). A row grows by
    at most its counts (a count of 3 mentions becomes 3 levels).
    """
    from scipy import sparse
    n = counts.shape[0]
    entries = counts.tocoo()
    positive = entries.data > 0
    rows, cols, vals = entries.row[positive], entries.col[positive], entries.data[positive]
    by_value = np.lexsort((vals, cols))
    rows, cols, vals = rows[by_value], cols[by_value], vals[by_value]
    new_level = np.ones(len(cols), dtype=bool)
    new_level[1:] = (cols[1:] != cols[:-1]) | (vals[1:] != vals[:-1])
    level = np.cumsum(new_level) - 1  # level of each entry's own value
    level_col, level_val = cols[new_level], vals[new_level]
    col_first = np.ones(len(level_col), dtype=bool)
    col_first[1:] = level_col[1:] != level_col[:-1]
    weight = level_val - np.where(col_first, 0.0, np.concatenate(([0.0], level_val[:-1])))
    col_start = np.maximum.accumulate(np.where(col_first, np.arange(len(level_col)), 0))
    spans = level - col_start[level] + 1  # an entry has its column's levels col_start .. own level
    entry = np.repeat(np.arange(len(level)), spans)
    offset = np.arange(len(entry)) - np.repeat(np.cumsum(spans) - spans, spans)
    level_ids = col_start[level][entry] + offset
    shape = (n, len(level_col))
    levels = sparse.csr_array((np.ones(len(entry)), (rows[entry], level_ids)), shape=shape)
    weights = sparse.csr_array((weight[level_ids], (rows[entry], level_ids)), shape=shape)
    levels.sort_indices()
    weights.sort_indices()
    return levels, weights


class _Links:
    """Undirected links between articles 0..n-1, folded as they come so memory stays O(n)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.pending = 0

    def add(self, rows: np.ndarray, cols: np.ndarray) -> None:
        if len(rows):
            self.rows.append(rows)
            self.cols.append(cols)
            self.pending += len(rows)
            if self.pending > max(_PENDING_LINKS, self.n):
                labels = self.labels()
                first = np.unique(labels, return_index=True)[1][labels]  # first article of each component
                linked = first != np.arange(self.n)
                self.rows, self.cols = [np.flatnonzero(linked)], [first[linked]]
                self.pending = len(self.rows[0])

    def labels(self) -> np.ndarray:
        """Component of each article, numbered in order of their first article."""
        from scipy import sparse
        from scipy.sparse.csgraph import connected_components
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(self.cols) if self.cols else np.zeros(0, dtype=np.int64)
        graph = sparse.coo_array((np.ones(len(rows)), (rows, cols)), shape=(self.n, self.n))
        return connected_components(graph, directed=False)[1]


def _prior_story_for(
    feats: list[StoryFeatures],
    prior_stories: list[PriorStory],
    window,
    threshold,
    title_words: dict[int, Counter] | None = None,  # prior story index -> title words, kept across calls
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
    title_words = {} if title_words is None else title_words
    for k, story in enumerate(prior_stories):
        if story.article_ids & ids:
            return story.story_id  # an article seen again keeps its story
        if events & story.events:
            score = 2.0
        else:
            last = story.last_seen or story.first_seen
            first = story.first_seen or story.last_seen
            if last is None or earliest - last > window or first - latest > window:
                continue
            prior_titles = title_words.get(k)
            if prior_titles is None:
                prior_titles = title_words[k] = Counter()
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
