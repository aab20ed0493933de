"""The seeds as bare .txt files through fetch and clean: paragraphs, repeats, boilerplate.

Reads ../shared/seeds at run time (never copied into the project) and skips without it.
A seed line is article text when it has at least `MIN_SENTENCE_WORDS` words and matches
none of the boilerplate shapes below; every such line must be found in the stored text
(compared in the fingerprint form, so a dateline split off or a standfirst kept in the body
still counts), and no boilerplate-shaped line may be kept.
"""

from __future__ import annotations

import re

import pytest

from flows.config import CleanConfig, FetchConfig
from flows.stages.clean import clean_items
from flows.stages.cleaning.normalize import fingerprint_text
from flows.stages.fetchers.local import LocalSource

pytestmark = [pytest.mark.unit, pytest.mark.quality]

MIN_SENTENCE_WORDS = 8
# Prompts, promos, credits, bios and tag rows, by shape (not by any seed's wording).
BOILERPLATE = re.compile(
    r"newsletter|subscribe|click here|^more in\b|^follow .* on twitter|catch up on the story"
    r"|^additional reporting by|\bis (the|a) .{0,40}correspondent for\b|^\S+( \S+){0,3} \| .* \| ",
    re.IGNORECASE)


@pytest.fixture(scope="module")
def seed_articles(shared_dir):
    fetched = LocalSource("seeds", str(shared_dir / "seeds"), FetchConfig()).fetch()
    articles, rejects = clean_items(fetched.items, CleanConfig())
    assert not rejects and len(articles) == len(fetched.items) == 5
    return {a.item_uri.rsplit("/", 1)[-1]: a for a in articles}


def test_seed_002_keeps_its_paragraph_breaks_and_its_repeat_once(seed_articles, shared_dir):
    [name] = [n for n in seed_articles if n.startswith("002_")]
    lines = [ln for ln in (shared_dir / "seeds" / name).read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(lines) == 12
    paragraphs = seed_articles[name].text.split("\n\n")
    assert len(paragraphs) == 11
    repeated = [ln for ln in lines if lines.count(ln) > 1]
    assert repeated  # the file repeats one paragraph verbatim...
    assert sum(p == repeated[0].strip() for p in paragraphs) == 1  # ...which is stored once


def test_no_seed_sentence_is_lost_and_no_boilerplate_line_is_kept(seed_articles, shared_dir):
    for name, article in seed_articles.items():
        stored = fingerprint_text(f"{article.dateline} - {article.text}" if article.dateline else article.text)
        for line in (shared_dir / "seeds" / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line == article.title:
                continue
            if BOILERPLATE.search(line):
                assert fingerprint_text(line) not in stored, f"{name}: boilerplate kept: {line[:60]!r}"
            elif len(line.split()) >= MIN_SENTENCE_WORDS:
                assert fingerprint_text(line) in stored, f"{name}: sentence lost: {line[:60]!r}"
        for paragraph in article.text.split("\n\n"):
            assert not BOILERPLATE.search(paragraph) or len(paragraph.split()) > 30, (name, paragraph[:60])


def test_seed_text_keeps_its_published_quotes(seed_articles, shared_dir):
    for name, article in seed_articles.items():
        # The first line may hold a title or a dateline ("CITY — ...") that is stored apart.
        raw = "\n".join((shared_dir / "seeds" / name).read_text(encoding="utf-8").splitlines()[1:])
        for char in "“”‘’–—":
            if char in raw:
                assert char in article.text or char in (article.title or ""), (name, char)
