"""Dedup stage: mark exact and near duplicates against this batch and the warehouse.

Duplicates are marked, never dropped (the warehouse keeps every copy):

* **exact**: the same `content_hash` (see `cleaning/normalize.py`: case, typography and
  layout do not count) as an earlier article; `duplicate_of` names the first copy.
* **near**: MinHash over word shingles with LSH banding finds candidates, which are kept
  when their estimated Jaccard similarity is at least `cfg.threshold`; `near_duplicate_of`
  names the most similar earlier article and `similarity` the estimate. An article whose
  canonical URL an earlier article already had, with different text, is a *revision* of
  that article: it is marked as its near duplicate whatever the similarity, because the
  URL says it is the same story.

"Earlier" means: in the warehouse (`PriorIndex`), then earlier in the batch (input order).

MinHash is computed here rather than with datasketch so that a whole batch is one numpy
computation, and so that the hash is exact universal hashing modulo the Mersenne prime
2**61 - 1 (datasketch lets the 64-bit product overflow). Shingles are hashed with xxh64 and
the permutations come from `numpy.random.default_rng(cfg.seed)`: signatures are the same in
every run and process, which the warehouse relies on when it compares new articles with
signatures stored by earlier runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from flows.config import DedupConfig
from flows.records import Article, StageCount

MERSENNE_PRIME = (1 << 61) - 1
# Signature value of a text with no word at all: never equal to a real hash (< 2**61 - 1).
EMPTY_SIGNATURE_VALUE = np.iinfo(np.uint64).max
# Shingle hashes permuted per numpy call: 1,024 x 128 uint64 work arrays (1 MB each) stay
# in cache; 16 times bigger blocks measured twice as slow.
_SHINGLES_PER_BLOCK = 1024
_WORD = re.compile(r"\w+")
_P = np.uint64(MERSENNE_PRIME)
_LOW_31 = np.uint64((1 << 31) - 1)
_LOW_30 = np.uint64((1 << 30) - 1)

ARTICLE_COLUMNS = ("article_id", "content_hash", "canonical_url", "duplicate_of")
SIGNATURE_COLUMNS = ("article_id", "num_perm", "seed", "shingle_size", "signature")

@dataclass(slots=True)
class PriorSignatures:
    """MinHash signatures already in the warehouse, one row per article."""

    article_ids: list[str]
    matrix: np.ndarray  # uint64, shape (len(article_ids), num_perm)


@dataclass(slots=True)
class PriorIndex:
    """What the warehouse already holds, as far as dedup needs it."""

    content_hashes: dict[str, str]  # content_hash -> article_id of the first copy
    canonical_urls: dict[str, str]  # canonical_url -> article_id (first copy at that URL)
    signatures: PriorSignatures
    stored_ids: set[str] = field(default_factory=set)  # every article_id already stored
    # Stored signature rows ignored because they were made with other MinHash settings.
    skipped_signatures: int = 0

    @classmethod
    def empty(cls, cfg: DedupConfig) -> PriorIndex:
        return cls({}, {}, PriorSignatures([], np.empty((0, cfg.num_perm), dtype=np.uint64)))

    @classmethod
    def from_arrow(cls, articles: pa.Table, signatures: pa.Table, cfg: DedupConfig) -> PriorIndex:
        """Build the index from the warehouse's `articles` and `article_signatures` rows.

        Signature rows made with a different (num_perm, seed, shingle_size) cannot be
        compared with this run's; they are skipped and counted in `skipped_signatures`
        (recomputing them is the warehouse's job).
        """
        _require_columns(articles, ARTICLE_COLUMNS, "articles")
        _require_columns(signatures, SIGNATURE_COLUMNS, "article_signatures")

        content_hashes: dict[str, str] = {}
        canonical_urls: dict[str, str] = {}
        stored_ids: set[str] = set()
        duplicate_rows: list[tuple[str, str]] = []
        columns = [articles.column(name).to_pylist() for name in ARTICLE_COLUMNS]
        for article_id, content_hash, url, duplicate_of in zip(*columns, strict=True):
            stored_ids.add(article_id)
            if duplicate_of is None:
                content_hashes.setdefault(content_hash, article_id)
                if url:
                    canonical_urls.setdefault(url, article_id)
            else:
                duplicate_rows.append((content_hash, duplicate_of))
        # A hash seen only on duplicates (its first copy was deleted) still points to that copy.
        for content_hash, duplicate_of in duplicate_rows:
            content_hashes.setdefault(content_hash, duplicate_of)

        same_settings = pc.and_(
            pc.and_(
                pc.equal(signatures.column("num_perm"), cfg.num_perm),
                pc.equal(signatures.column("seed"), cfg.seed),
            ),
            pc.equal(signatures.column("shingle_size"), cfg.shingle_size),
        )
        same_settings = pc.and_(
            pc.fill_null(same_settings, False),
            pc.equal(pc.fill_null(pc.list_value_length(signatures.column("signature")), 0), cfg.num_perm),
        )
        usable = signatures.filter(same_settings)
        skipped = signatures.num_rows - usable.num_rows

        ids = usable.column("article_id").to_pylist()
        flat = pc.list_flatten(usable.column("signature")).to_numpy(zero_copy_only=False)
        matrix = np.asarray(flat, dtype=np.uint64).reshape(len(ids), cfg.num_perm)
        # One row per article: a repeated row (the same signature written twice) adds nothing.
        first_rows: dict[str, int] = {}
        for row, article_id in enumerate(ids):
            first_rows.setdefault(article_id, row)
        if len(first_rows) != len(ids):
            keep = sorted(first_rows.values())
            ids = [ids[row] for row in keep]
            matrix = matrix[keep]
        return cls(
            content_hashes=content_hashes,
            canonical_urls=canonical_urls,
            signatures=PriorSignatures(ids, matrix),
            stored_ids=stored_ids,
            skipped_signatures=skipped,
        )


@dataclass(slots=True)
class DedupResult:
    articles: list[Article]  # the input list, duplicate fields filled in
    # (article_id, signature) of the batch's new first copies, for the warehouse to store.
    signatures: list[tuple[str, np.ndarray]]
    exact: int  # articles marked duplicate_of (new articles only)
    near: int  # articles marked near_duplicate_of (new articles only)
    already_stored: set[str]  # article_ids the warehouse holds already: skip on insert
    repeated_in_batch: int = 0  # articles whose article_id appeared earlier in this batch
    lsh_bands: int = 0
    lsh_rows: int = 0

    def articles_to_store(self) -> list[Article]:
        """The articles to insert: not stored before and not repeated within the batch."""
        seen: set[str] = set()
        new = []
        for article in self.articles:
            if article.article_id in self.already_stored or article.article_id in seen:
                continue
            seen.add(article.article_id)
            new.append(article)
        return new

    def counts(self, rows_in: int) -> StageCount:
        rows_out = len(self.articles_to_store())
        # Not new: stored by an earlier run, or a second copy of the same article in this batch.
        return StageCount(rows_in, rows_out=rows_out,
                          extra={"dropped": rows_in - rows_out, "already_stored": len(self.already_stored),
                                 "exact": self.exact, "near": self.near})


# ---------------------------------------------------------------------------- MinHash


def shingles(text: str, shingle_size: int) -> list[str]:
    """Lower-cased word shingles; a text shorter than one shingle is one shingle."""
    tokens = _WORD.findall(text.lower())
    if len(tokens) <= shingle_size:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i : i + shingle_size]) for i in range(len(tokens) - shingle_size + 1)]


@cache
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if seed < 0:
        raise ValueError(f"dedup.seed {seed}: must be >= 0 (it seeds numpy's default_rng)")
    rng = np.random.default_rng(seed)
    a = rng.integers(1, MERSENNE_PRIME, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, MERSENNE_PRIME, size=num_perm, dtype=np.uint64)
    return a, b


def _mod_mersenne(values: np.ndarray) -> np.ndarray:
    """values mod 2**61 - 1, for any uint64 (2**61 is 1 modulo the prime)."""
    reduced = (values & _P) + (values >> np.uint64(61))
    return np.minimum(reduced, reduced - _P)  # unsigned: reduced - P wraps high when reduced < P


class _UniversalHash:
    """(a * x + b) mod 2**61 - 1 for a block of x (shape (n,)) and all permutations: (n, k).

    a and x are below 2**61, so a * x needs up to 122 bits. Splitting both into 31-bit
    halves keeps every partial product below 2**62, and powers of two fold back with
    2**61 = 1 (mod p); the sum stays below 2**64, so uint64 arithmetic is exact. The work
    arrays are allocated once and sized to stay in cache, which makes this ~4x faster
    than fresh temporaries for a whole batch.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, block: int) -> None:
        self.a_high, self.a_low, self.b = a >> np.uint64(31), a & _LOW_31, b
        self._sum = np.empty((block, len(a)), dtype=np.uint64)
        self._middle = np.empty_like(self._sum)
        self._scratch = np.empty_like(self._sum)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        total, middle, scratch = self._sum[:n], self._middle[:n], self._scratch[:n]
        x_high, x_low = (x >> np.uint64(31))[:, None], (x & _LOW_31)[:, None]
        np.multiply(self.a_high, x_high, out=total)  # weight 2**62 = 2 (mod p)
        np.left_shift(total, np.uint64(1), out=total)
        np.multiply(self.a_high, x_low, out=middle)  # weight 2**31
        np.multiply(self.a_low, x_high, out=scratch)
        np.add(middle, scratch, out=middle)
        np.multiply(self.a_low, x_low, out=scratch)  # weight 1
        np.add(total, scratch, out=total)
        # middle * 2**31: the part at 2**61 and above folds to (middle >> 30).
        np.right_shift(middle, np.uint64(30), out=scratch)
        np.add(total, scratch, out=total)
        np.bitwise_and(middle, _LOW_30, out=middle)
        np.left_shift(middle, np.uint64(31), out=middle)
        np.add(total, middle, out=total)
        np.add(total, self.b, out=total)
        # mod p, as _mod_mersenne, in place.
        np.right_shift(total, np.uint64(61), out=scratch)
        np.bitwise_and(total, _P, out=total)
        np.add(total, scratch, out=total)
        np.subtract(total, _P, out=scratch)
        np.minimum(total, scratch, out=total)
        return total


def _shingle_hashes(text: str, cfg: DedupConfig) -> np.ndarray:
    seed = cfg.seed & 0xFFFF_FFFF_FFFF_FFFF
    hashes = [xxhash.xxh64_intdigest(s.encode("utf-8"), seed) for s in shingles(text, cfg.shingle_size)]
    values = np.unique(np.fromiter(hashes, dtype=np.uint64, count=len(hashes)))
    return _mod_mersenne(values)


def minhash_signatures(texts: list[str], cfg: DedupConfig) -> np.ndarray:
    """MinHash signatures of `texts`: uint64 array of shape (len(texts), cfg.num_perm).

    Deterministic for a given (num_perm, seed, shingle_size): no Python `hash()`, no
    process state. A text without any word gets a row of EMPTY_SIGNATURE_VALUE.
    """
    a, b = _permutations(cfg.num_perm, cfg.seed)
    result = np.full((len(texts), cfg.num_perm), EMPTY_SIGNATURE_VALUE, dtype=np.uint64)
    per_text = [_shingle_hashes(text, cfg) for text in texts]
    lengths = np.fromiter((len(h) for h in per_text), dtype=np.int64, count=len(per_text))
    if lengths.sum() == 0:
        return result
    all_hashes = np.concatenate(per_text)
    owner = np.repeat(np.arange(len(texts)), lengths)
    permute = _UniversalHash(a, b, _SHINGLES_PER_BLOCK)
    for start in range(0, len(all_hashes), _SHINGLES_PER_BLOCK):
        block_owner = owner[start : start + _SHINGLES_PER_BLOCK]
        permuted = permute(all_hashes[start : start + _SHINGLES_PER_BLOCK])
        # A block may hold the end of one text, several texts and the start of another.
        segment_starts = np.flatnonzero(np.r_[True, block_owner[1:] != block_owner[:-1]])
        segment_minima = np.minimum.reduceat(permuted, segment_starts, axis=0)
        rows = block_owner[segment_starts]
        result[rows] = np.minimum(result[rows], segment_minima)
    return result


def estimated_jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Share of equal MinHash values: the estimate of Jaccard similarity, per row of `others`."""
    return np.mean(np.atleast_2d(others) == signature, axis=1)


# ---------------------------------------------------------------------------- LSH


@cache
def optimal_lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm that best fit `threshold`.

    As datasketch's `_optimal_param`: minimise the false-positive area (probability of
    becoming a candidate below the threshold) plus the false-negative area (of missing one
    above it), equally weighted. Candidates are verified afterwards, so the cost of a false
    positive is only time.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"dedup.threshold {threshold}: must be between 0 and 1 (exclusive)")
    below = np.linspace(0.0, threshold, 201)
    above = np.linspace(threshold, 1.0, 201)
    best: tuple[float, int, int] | None = None
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive = np.trapezoid(1.0 - (1.0 - below**rows) ** bands, below)
            false_negative = np.trapezoid((1.0 - above**rows) ** bands, above)
            error = 0.5 * false_positive + 0.5 * false_negative
            if best is None or error < best[0]:
                best = (float(error), bands, rows)
    assert best is not None
    return best[1], best[2]


class _BandIndex:
    """LSH buckets: for each band, a key of its rows -> the references stored under it."""

    def __init__(self, bands: int, rows: int, num_perm: int) -> None:
        self.bands, self.rows = bands, rows
        # Odd multipliers make a cheap, exact-enough key of a band; key collisions only
        # add candidates, which verification removes.
        multipliers = np.random.default_rng(0x5EED).integers(1, 1 << 62, size=rows, dtype=np.uint64)
        self._multipliers = multipliers | np.uint64(1)
        self._buckets: list[dict[int, list[int]]] = [{} for _ in range(bands)]

    def keys(self, signatures: np.ndarray) -> np.ndarray:
        """Band keys of each signature row: shape (n, bands)."""
        used = signatures[:, : self.bands * self.rows].reshape(-1, self.bands, self.rows)
        return (used * self._multipliers).sum(axis=2, dtype=np.uint64)

    def add(self, band_keys: Iterable[int], reference: int) -> None:
        for bucket, key in zip(self._buckets, band_keys, strict=True):
            bucket.setdefault(key, []).append(reference)

    def add_all(self, signatures: np.ndarray) -> None:
        if len(signatures) == 0:
            return
        usable = ~np.all(signatures == EMPTY_SIGNATURE_VALUE, axis=1)
        for band, column in enumerate(self.keys(signatures).T):
            bucket = self._buckets[band]
            for reference, key in enumerate(column.tolist()):
                if usable[reference]:
                    bucket.setdefault(key, []).append(reference)

    def candidates(self, band_keys: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for bucket, key in zip(self._buckets, band_keys, strict=True):
            found.update(bucket.get(key, ()))
        return found


# ---------------------------------------------------------------------------- dedup


def deduplicate(articles: list[Article], prior: PriorIndex, cfg: DedupConfig) -> DedupResult:
    """Fill duplicate_of / near_duplicate_of / similarity; return signatures of new first copies.

    * An article whose article_id the warehouse already holds (a re-run) is listed in
      `already_stored`; it is never marked a duplicate of itself and gets no new signature.
      Its duplicate_of is restored from the stored first copy; near fields stay empty (the
      stored row is authoritative).
    * An article_id repeated within the batch copies the marks of its first occurrence and
      is counted in `repeated_in_batch`.
    * Exact duplicates get no signature: their first copy's signature stands for them.
    """
    bands, rows = optimal_lsh_params(cfg.threshold, cfg.num_perm)
    result = DedupResult(
        articles=articles,
        signatures=[],
        exact=0,
        near=0,
        already_stored=set(),
        lsh_bands=bands,
        lsh_rows=rows,
    )
    first_in_batch_by_hash: dict[str, str] = {}
    first_occurrence: dict[str, Article] = {}
    repeats: list[tuple[Article, Article]] = []
    near_candidates: list[Article] = []

    for article in articles:
        article.duplicate_of = article.near_duplicate_of = None
        article.similarity = None
        if article.article_id in first_occurrence:
            repeats.append((article, first_occurrence[article.article_id]))
            continue
        first_occurrence[article.article_id] = article
        if article.article_id in prior.stored_ids:
            result.already_stored.add(article.article_id)
            first_copy = prior.content_hashes.get(article.content_hash)
            if first_copy is not None and first_copy != article.article_id:
                article.duplicate_of = first_copy
            continue
        first_copy = prior.content_hashes.get(article.content_hash) or first_in_batch_by_hash.get(
            article.content_hash
        )
        if first_copy is not None:
            article.duplicate_of = first_copy
            result.exact += 1
            continue
        first_in_batch_by_hash[article.content_hash] = article.article_id
        near_candidates.append(article)

    if near_candidates:
        _mark_near_duplicates(near_candidates, prior, cfg, bands, rows, result)

    for repeat, first in repeats:
        repeat.duplicate_of = first.duplicate_of
        repeat.near_duplicate_of = first.near_duplicate_of
        repeat.similarity = first.similarity
    result.repeated_in_batch = len(repeats)
    return result


def _mark_near_duplicates(
    articles: list[Article],
    prior: PriorIndex,
    cfg: DedupConfig,
    bands: int,
    rows: int,
    result: DedupResult,
) -> None:
    """Compare each article with the prior articles and the batch's earlier first copies."""
    signatures = minhash_signatures([article.text for article in articles], cfg)
    prior_matrix = prior.signatures.matrix
    prior_ids = prior.signatures.article_ids
    prior_row_of = {article_id: row for row, article_id in enumerate(prior_ids)}

    prior_index = _BandIndex(bands, rows, cfg.num_perm)
    prior_index.add_all(prior_matrix)
    batch_index = _BandIndex(bands, rows, cfg.num_perm)
    band_keys = batch_index.keys(signatures).tolist()
    batch_row_of: dict[str, int] = {}
    batch_url_owner: dict[str, str] = {}

    for row, article in enumerate(articles):
        signature = signatures[row]
        has_words = not np.all(signature == EMPTY_SIGNATURE_VALUE)
        # (similarity, order, article_id): order prefers prior over batch, then earlier rows.
        scored: list[tuple[float, int, str]] = []
        if has_words:
            prior_rows = sorted(prior_index.candidates(band_keys[row]))
            if prior_rows:
                sims = estimated_jaccard(signature, prior_matrix[prior_rows])
                scored += [(float(s), r, prior_ids[r]) for r, s in zip(prior_rows, sims, strict=True)]
            batch_rows = sorted(batch_index.candidates(band_keys[row]))
            if batch_rows:
                sims = estimated_jaccard(signature, signatures[batch_rows])
                scored += [
                    (float(s), len(prior_ids) + r, articles[r].article_id)
                    for r, s in zip(batch_rows, sims, strict=True)
                ]
        matches = [entry for entry in scored if entry[0] >= cfg.threshold]

        revision_of = _earlier_owner_of_url(article, prior, batch_url_owner)
        revision_similarity: float | None = None
        if revision_of is not None:
            earlier_version = None
            if revision_of in prior_row_of:
                earlier_version = prior_matrix[prior_row_of[revision_of]]
            elif revision_of in batch_row_of:
                earlier_version = signatures[batch_row_of[revision_of]]
            if earlier_version is not None:
                revision_similarity = float(estimated_jaccard(signature, earlier_version)[0])

        best = min(matches, key=lambda entry: (-entry[0], entry[1]), default=None)
        if best is not None and (revision_similarity is None or best[0] > revision_similarity):
            article.near_duplicate_of, article.similarity = best[2], round(best[0], 4)
        elif revision_of is not None:
            # Same URL, new text: a revision. Similarity is unknown only when the earlier
            # version has no signature (it was itself an exact copy, or made with other settings).
            article.near_duplicate_of = revision_of
            article.similarity = None if revision_similarity is None else round(revision_similarity, 4)
        if article.near_duplicate_of is not None:
            result.near += 1

        if has_words:
            batch_index.add(band_keys[row], row)
        batch_row_of[article.article_id] = row
        if article.canonical_url:
            batch_url_owner.setdefault(article.canonical_url, article.article_id)
        result.signatures.append((article.article_id, signature))


def _earlier_owner_of_url(article: Article, prior: PriorIndex, batch_url_owner: dict[str, str]) -> str | None:
    if not article.canonical_url:
        return None
    owner = prior.canonical_urls.get(article.canonical_url) or batch_url_owner.get(article.canonical_url)
    return owner if owner != article.article_id else None


def _require_columns(table: pa.Table, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in table.column_names]
    if missing:
        raise ValueError(
            f"{name} table: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(columns)} (see warehouse/schema/{name}.sql)"
        )
