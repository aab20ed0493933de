"""The reference case: five outlets' reports of the 2023 UK–Japan Reciprocal Access Agreement.

Reads ../shared/seeds at run time (never copied into the project) and skips without it.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from flows.config import WirelakeConfig
from flows.records import Source
from warehouse.store import Warehouse

pytestmark = [pytest.mark.integration, pytest.mark.quality]

BOILERPLATE = re.compile(
    r"newsletter|subscribe|^more in\b|follow .* on twitter|catch up on the story of the week", re.I | re.M)


@pytest.fixture(scope="module")
def seeds_warehouse(shared_dir, tmp_path_factory, prefect_harness):
    from flows.ingest import run_ingest

    root = tmp_path_factory.mktemp("seeds")
    summary = run_ingest(WirelakeConfig(warehouse=root / "wh"), [Source("seeds", str(shared_dir / "seeds"), "local")])
    assert summary["status"] == "published", summary
    return Warehouse(root / "wh")


def test_seeds_load_clean(seeds_warehouse):
    with seeds_warehouse.reader() as con:
        rows = con.execute("SELECT title, text, word_count FROM articles").fetchall()
    assert len(rows) == 5
    for title, text, words in rows:
        assert words > 200, title
        leftovers = [m.group(0) for m in BOILERPLATE.finditer(text)]
        # A sentence may mention a newsletter; a boilerplate *line* may not survive.
        lines = [ln for ln in text.split("\n") if BOILERPLATE.search(ln) and len(ln.split()) < 25]
        assert not lines, f"{title}: boilerplate lines left: {lines} ({leftovers})"
        paragraphs = [p.strip() for p in text.split("\n\n") if len(p.strip()) >= 40]
        repeated = [p[:60] for p, n in Counter(paragraphs).items() if n > 1]
        assert not repeated, f"{title}: repeated paragraphs {repeated}"


def test_every_suite_passes_on_the_seeds(seeds_warehouse):
    with seeds_warehouse.reader() as con:
        failed = con.execute("SELECT suite, expectation, unexpected_sample FROM validation_results "
                             "WHERE NOT success").fetchall()
        suites = {r[0] for r in con.execute("SELECT DISTINCT suite FROM validation_results").fetchall()}
    assert not failed, failed
    assert {"articles", "entities", "entity_mentions", "events", "event_arguments", "event_mentions",
            "quotes", "stories"} <= suites


def test_one_canonical_raa_names_both_signatories(seeds_warehouse):
    with seeds_warehouse.reader() as con:
        rows = con.execute("SELECT signatories, signatory_codes, article_count, source_count FROM events "
                           "WHERE name ILIKE '%reciprocal access agreement%' AND list_contains(signatories, "
                           "'United Kingdom')").fetchall()
    assert len(rows) == 1, rows
    signatories, codes, article_count, _ = rows[0]
    assert sorted(signatories) == ["Japan", "United Kingdom"] and sorted(codes) == ["GBR", "JPN"]
    assert article_count == 5
