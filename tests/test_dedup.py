"""Tests of the dedup stage: exact and near duplicates, within a run and across runs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from datasketch.lsh import _optimal_param

from flows.config import CleanConfig, DedupConfig
from flows.records import Article, Item
from flows.run_records import signatures_table
from flows.stages.clean import clean_items
from flows.stages.dedup import (
    MERSENNE_PRIME,
    PriorIndex,
    _permutations,
    _UniversalHash,
    deduplicate,
    estimated_jaccard,
    minhash_signatures,
    optimal_lsh_params,
    shingles,
)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "dedup"
SHARED = REPO.parent / "shared"
FETCHED_AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CFG = DedupConfig()


def signatures_to_arrow(signatures, cfg: DedupConfig = CFG):
    """Signatures as the `article_signatures` rows the flow stores."""
    return signatures_table(signatures, cfg.num_perm, cfg.seed, cfg.shingle_size)
COPY_TITLE = "Manchester rail strike: drivers to walk out next week"


def fixture_item(name: str, source: str, url: str | None = None, title: str | None = None) -> Item:
    path = FIXTURES / f"{name}.txt"
    return Item(
        doc_id=name,
        source=source,
        uri=str(path),
        format="text",
        content=path.read_text(encoding="utf-8"),
        fetched_at=FETCHED_AT,
        url=url,
        title=title,
    )


def clean(*items: Item) -> list[Article]:
    articles, rejects = clean_items(list(items), CleanConfig())
    assert rejects == []
    return articles


@pytest.fixture
def rail_articles() -> dict[str, Article]:
    articles = clean(
        fixture_item("rail_strike_original", "northwire"),
        fixture_item("rail_strike_copy", "valley-post", title=COPY_TITLE),
        fixture_item("rail_strike_revised", "northwire"),
        fixture_item("rail_strike_same_topic", "leeds-echo"),
    )
    return {a.doc_id: a for a in articles}


def articles_table(articles: list[Article]) -> pa.Table:
    """The columns of the warehouse's articles table that dedup reads."""
    return pa.table(
        {
            "article_id": [a.article_id for a in articles],
            "content_hash": [a.content_hash for a in articles],
            "canonical_url": [a.canonical_url for a in articles],
            "duplicate_of": [a.duplicate_of for a in articles],
        }
    )


# ------------------------------------------------------------------ within one batch


@pytest.mark.unit
def test_exact_near_and_unrelated_in_one_batch(rail_articles: dict[str, Article]) -> None:
    batch = list(rail_articles.values())
    result = deduplicate(batch, PriorIndex.empty(CFG), CFG)

    original = rail_articles["rail_strike_original"]
    copy = rail_articles["rail_strike_copy"]
    revised = rail_articles["rail_strike_revised"]
    same_topic = rail_articles["rail_strike_same_topic"]

    assert result.articles is batch
    assert original.duplicate_of is None and original.near_duplicate_of is None
    assert copy.duplicate_of == original.article_id
    assert copy.near_duplicate_of is None
    assert revised.duplicate_of is None
    assert revised.near_duplicate_of == original.article_id
    assert revised.similarity is not None and 0.7 <= revised.similarity <= 0.95
    assert revised.similarity == round(revised.similarity, 4)
    assert same_topic.duplicate_of is None and same_topic.near_duplicate_of is None
    assert (result.exact, result.near) == (1, 1)
    # Signatures for first copies only: the exact copy is represented by the original.
    assert [article_id for article_id, _ in result.signatures] == [
        original.article_id,
        revised.article_id,
        same_topic.article_id,
    ]
    assert all(sig.shape == (CFG.num_perm,) and sig.dtype == np.uint64 for _, sig in result.signatures)


@pytest.mark.unit
def test_estimated_similarity_tracks_true_jaccard(rail_articles: dict[str, Article]) -> None:
    texts = [a.text for a in rail_articles.values()]
    signatures = minhash_signatures(texts, CFG)
    shingle_sets = [set(shingles(t, CFG.shingle_size)) for t in texts]
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            true = len(shingle_sets[i] & shingle_sets[j]) / len(shingle_sets[i] | shingle_sets[j])
            estimate = float(estimated_jaccard(signatures[i], signatures[j])[0])
            # Standard error at 128 permutations is at most 0.045; allow ~3 of them.
            assert abs(estimate - true) < 0.13, (i, j, true, estimate)


@pytest.mark.unit
def test_near_duplicate_picks_the_most_similar_earlier_article(rail_articles: dict[str, Article]) -> None:
    original = rail_articles["rail_strike_original"]
    revised = rail_articles["rail_strike_revised"]
    # A second revision, closer to the first revision than to the original.
    twice = replace(
        revised,
        article_id="twice-revised",
        content_hash="other",
        text=revised.text + "\n\nUnion leaders will meet on Sunday to decide whether to attend.",
    )
    deduplicate([original, revised, twice], PriorIndex.empty(CFG), CFG)
    assert twice.near_duplicate_of == revised.article_id
    assert twice.similarity is not None and twice.similarity > 0.9


@pytest.mark.unit
def test_same_url_with_new_text_is_a_revision_even_below_threshold(rail_articles: dict[str, Article]) -> None:
    url = "https://northwire.example/2024/rail-strike"
    first = replace(rail_articles["rail_strike_original"], canonical_url=url)
    rewritten = replace(rail_articles["rail_strike_same_topic"], canonical_url=url)
    deduplicate([first, rewritten], PriorIndex.empty(CFG), CFG)
    assert rewritten.near_duplicate_of == first.article_id
    assert rewritten.similarity is not None and rewritten.similarity < CFG.threshold


@pytest.mark.unit
def test_article_repeated_in_a_batch_is_not_its_own_duplicate(rail_articles: dict[str, Article]) -> None:
    original = rail_articles["rail_strike_original"]
    again = replace(original)
    copy = rail_articles["rail_strike_copy"]
    result = deduplicate([original, again, copy], PriorIndex.empty(CFG), CFG)
    assert again.duplicate_of is None and again.near_duplicate_of is None
    assert copy.duplicate_of == original.article_id
    assert result.repeated_in_batch == 1
    assert result.exact == 1
    assert [a.article_id for a in result.articles_to_store()] == [original.article_id, copy.article_id]
    assert len(result.signatures) == 1


# ------------------------------------------------------------------ MinHash


@pytest.mark.unit
def test_signatures_are_deterministic_within_and_across_processes(rail_articles: dict[str, Article]) -> None:
    texts = [a.text for a in rail_articles.values()]
    first = minhash_signatures(texts, CFG)
    second = minhash_signatures(list(reversed(texts)), CFG)[::-1]
    assert first.dtype == np.uint64 and first.shape == (len(texts), CFG.num_perm)
    np.testing.assert_array_equal(first, second)

    code = (
        "import json, sys; from flows.config import DedupConfig; "
        "from flows.stages.dedup import minhash_signatures; "
        "texts = json.load(sys.stdin); "
        "print(json.dumps(minhash_signatures(texts, DedupConfig()).tolist()))"
    )
    # A different PYTHONHASHSEED proves no Python hash() is involved.
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed snippet
        [sys.executable, "-c", code], input=json.dumps(texts), cwd=REPO, env=env,
        capture_output=True, text=True, check=True,
    )
    np.testing.assert_array_equal(np.array(json.loads(out.stdout), dtype=np.uint64), first)


@pytest.mark.unit
def test_seed_and_settings_change_the_signature(rail_articles: dict[str, Article]) -> None:
    text = [rail_articles["rail_strike_original"].text]
    base = minhash_signatures(text, CFG)
    assert not np.array_equal(base, minhash_signatures(text, DedupConfig(seed=2)))
    assert not np.array_equal(base, minhash_signatures(text, DedupConfig(shingle_size=3)))
    assert minhash_signatures(text, DedupConfig(num_perm=64)).shape == (1, 64)


@pytest.mark.unit
def test_universal_hash_is_exact_modulo_the_mersenne_prime() -> None:
    a, b = _permutations(16, 7)
    edge_values = [0, 1, 2, 12345, (1 << 31) - 1, 1 << 31, MERSENNE_PRIME - 1, (1 << 60) + 99]
    x = np.array(edge_values, dtype=np.uint64)
    got = _UniversalHash(a, b, block=len(x))(x)
    for i, xi in enumerate(x.tolist()):
        for j in range(len(a)):
            assert int(got[i, j]) == (int(a[j]) * xi + int(b[j])) % MERSENNE_PRIME


@pytest.mark.unit
def test_short_texts_are_one_shingle() -> None:
    assert shingles("Strike off", 5) == ["strike off"]
    assert shingles("", 5) == []
    sig = minhash_signatures(["Strike off", "strike OFF!", "Strike on", ""], CFG)
    np.testing.assert_array_equal(sig[0], sig[1])
    assert not np.array_equal(sig[0], sig[2])
    assert np.all(sig[3] == np.iinfo(np.uint64).max)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("threshold", "num_perm"), [(0.5, 128), (0.7, 128), (0.8, 128), (0.9, 256), (0.7, 64)]
)
def test_lsh_banding_matches_datasketch(threshold: float, num_perm: int) -> None:
    bands, rows = optimal_lsh_params(threshold, num_perm)
    assert bands * rows <= num_perm
    assert (bands, rows) == _optimal_param(threshold, num_perm, 0.5, 0.5)


@pytest.mark.unit
def test_bad_knobs_are_named() -> None:
    with pytest.raises(ValueError, match=r"dedup.threshold 1.5"):
        optimal_lsh_params(1.5, 128)
    with pytest.raises(ValueError, match=r"dedup.seed -1"):
        minhash_signatures(["some words here"], DedupConfig(seed=-1))


# ------------------------------------------------------------------ across runs


@pytest.mark.unit
def test_prior_index_round_trip_through_arrow(rail_articles: dict[str, Article]) -> None:
    original = rail_articles["rail_strike_original"]
    run1 = deduplicate([original], PriorIndex.empty(CFG), CFG)
    prior = PriorIndex.from_arrow(articles_table([original]), signatures_to_arrow(run1.signatures), CFG)

    assert prior.content_hashes == {original.content_hash: original.article_id}
    assert prior.stored_ids == {original.article_id}
    assert prior.signatures.article_ids == [original.article_id]
    np.testing.assert_array_equal(prior.signatures.matrix[0], run1.signatures[0][1])

    copy = rail_articles["rail_strike_copy"]
    revised = rail_articles["rail_strike_revised"]
    same_topic = rail_articles["rail_strike_same_topic"]
    run2 = deduplicate([copy, revised, same_topic], prior, CFG)
    assert copy.duplicate_of == original.article_id
    assert revised.near_duplicate_of == original.article_id
    assert revised.similarity is not None and revised.similarity >= CFG.threshold
    assert same_topic.near_duplicate_of is None
    assert run2.already_stored == set()
    assert (run2.exact, run2.near) == (1, 1)


@pytest.mark.integration
def test_prior_index_from_the_warehouse_ddl_in_duckdb(rail_articles: dict[str, Article]) -> None:
    """Signatures stored as UBIGINT[] by DuckDB come back usable, and a re-run is recognised."""
    original = rail_articles["rail_strike_original"]
    run1 = deduplicate([original], PriorIndex.empty(CFG), CFG)
    con = duckdb.connect()
    con.execute((REPO / "warehouse" / "schema" / "article_signatures.sql").read_text(encoding="utf-8"))
    new_signatures = signatures_to_arrow(run1.signatures)  # noqa: F841 - read by DuckDB below
    con.execute("INSERT INTO article_signatures SELECT * FROM new_signatures")
    stored_articles = articles_table([original])  # noqa: F841 - read by DuckDB below
    articles = con.execute(
        "SELECT article_id, content_hash, canonical_url, duplicate_of FROM stored_articles"
    ).fetch_arrow_table()
    signatures = con.execute("SELECT * FROM article_signatures").fetch_arrow_table()
    prior = PriorIndex.from_arrow(articles, signatures, CFG)
    np.testing.assert_array_equal(prior.signatures.matrix[0], run1.signatures[0][1])

    rerun = replace(original)
    revised = rail_articles["rail_strike_revised"]
    run2 = deduplicate([rerun, revised], prior, CFG)
    assert run2.already_stored == {original.article_id}
    assert rerun.duplicate_of is None and rerun.near_duplicate_of is None
    assert revised.near_duplicate_of == original.article_id
    assert [a.article_id for a in run2.articles_to_store()] == [revised.article_id]
    assert [article_id for article_id, _ in run2.signatures] == [revised.article_id]


@pytest.mark.unit
def test_rerun_of_a_stored_duplicate_keeps_pointing_at_the_first_copy(
    rail_articles: dict[str, Article],
) -> None:
    original = rail_articles["rail_strike_original"]
    copy = rail_articles["rail_strike_copy"]
    run1 = deduplicate([original, copy], PriorIndex.empty(CFG), CFG)
    stored_signatures = signatures_to_arrow(run1.signatures)
    prior = PriorIndex.from_arrow(articles_table([original, copy]), stored_signatures, CFG)

    copy_again = replace(copy, duplicate_of=None)
    run2 = deduplicate([copy_again], prior, CFG)
    assert run2.already_stored == {copy.article_id}
    assert copy_again.duplicate_of == original.article_id
    assert run2.exact == 0 and run2.signatures == [] and run2.articles_to_store() == []


@pytest.mark.unit
def test_signatures_made_with_other_settings_are_skipped_and_counted(
    rail_articles: dict[str, Article],
) -> None:
    original = rail_articles["rail_strike_original"]
    other_cfg = DedupConfig(seed=99)
    run1 = deduplicate([original], PriorIndex.empty(other_cfg), other_cfg)
    old_rows = signatures_to_arrow(run1.signatures, other_cfg)
    prior = PriorIndex.from_arrow(articles_table([original]), old_rows, CFG)
    assert prior.skipped_signatures == 1
    assert prior.signatures.matrix.shape == (0, CFG.num_perm)
    # Without a comparable signature the revision is not found by MinHash...
    revised = rail_articles["rail_strike_revised"]
    deduplicate([revised], prior, CFG)
    assert revised.near_duplicate_of is None
    # ...but exact copies still are, by hash.
    copy = rail_articles["rail_strike_copy"]
    deduplicate([copy], prior, CFG)
    assert copy.duplicate_of == original.article_id


@pytest.mark.unit
def test_from_arrow_names_missing_columns() -> None:
    articles = pa.table({"article_id": ["a"], "content_hash": ["h"]})
    with pytest.raises(ValueError, match=r"articles table: missing column\(s\) canonical_url, duplicate_of"):
        PriorIndex.from_arrow(articles, signatures_to_arrow([]), CFG)


# ------------------------------------------------------------------ corpus


@pytest.mark.quality
@pytest.mark.slow
def test_bbc_body_identical_pairs_are_exact_duplicates() -> None:
    corpus = SHARED / "corpora" / "bbc-news" / "bbc-news.jsonl.gz"
    groups_file = SHARED / "corpora" / "bbc-news" / "bbc-news-duplicate-groups.json"
    if not corpus.exists() or not groups_file.exists():
        pytest.skip(f"{corpus.parent} not found; the quality tests need the shared corpora beside the repo")
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    items = [
        Item(doc_id=r["id"], source="bbc", uri=f"bbc/{r['id']}", format="text", content=r["text"],
             fetched_at=FETCHED_AT, title=r["title"])
        for r in rows
    ]
    articles = clean(*items)
    result = deduplicate(articles, PriorIndex.empty(CFG), CFG)
    by_id = {a.doc_id: a for a in articles}
    groups = json.loads(groups_file.read_text(encoding="utf-8"))["body_identical"]
    for group in groups:
        first, *rest = sorted(group)
        for other in rest:
            assert by_id[other].duplicate_of == by_id[first].article_id, (first, other)
    assert result.exact >= len(groups)
    # Near duplicates are rare in this corpus; flagging many would mean the threshold misfires.
    assert result.near <= 0.02 * len(articles)
