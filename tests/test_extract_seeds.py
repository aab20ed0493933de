"""The reference case through fetch → clean → extract: five outlets' reports of the UK–Japan
Reciprocal Access Agreement. Reads ../shared/seeds at run time and skips without it."""

from __future__ import annotations

from collections import Counter

import pytest

from flows.config import CleanConfig, ExtractConfig, FetchConfig
from flows.records import Source
from flows.stages.clean import clean_items
from flows.stages.extract import extract, load_nlp
from flows.stages.fetch import fetch_all

pytestmark = [pytest.mark.quality, pytest.mark.integration]


@pytest.fixture(scope="module")
def seeds(shared_dir):
    seeds_dir = shared_dir / "seeds"
    if not any(seeds_dir.glob("*.txt")):
        pytest.skip(f"{seeds_dir} has no seed articles")
    fetched = fetch_all([Source("seeds", str(seeds_dir), "local")], FetchConfig())
    articles, rejects = clean_items(fetched.items, CleanConfig())
    assert not rejects and len(articles) == 5
    cfg = ExtractConfig()
    return articles, extract(articles, cfg, nlp=load_nlp(cfg.spacy_model))


def _entities(result):
    return {row["entity_id"]: row for row in result.entities.to_pylist()}


def test_careful_reader_entities_under_canonical_names(seeds):
    _, result = seeds
    names = {(row["name"], row["type"]) for row in result.entities.to_pylist()}
    expected = {
        ("Rishi Sunak", "PERSON"),
        ("Fumio Kishida", "PERSON"),
        ("Euan Graham", "PERSON"),
        ("Zack Cooper", "PERSON"),
        ("Christopher Johnstone", "PERSON"),
        ("Boris Johnson", "PERSON"),
        ("Joe Biden", "PERSON"),
        ("United Kingdom", "GPE"),
        ("Japan", "GPE"),
        ("China", "GPE"),
        ("Australia", "GPE"),
        ("Philippines", "GPE"),
        ("Tower of London", "FAC"),
        ("International Institute for Strategic Studies", "ORG"),
        ("American Enterprise Institute", "ORG"),
        ("Center for Strategic and International Studies", "ORG"),
        ("G7", "ORG"),
    }
    assert expected <= names, expected - names
    people = {n for n, t in names if t == "PERSON"}
    assert "Kishida Sunak" not in people and "Kishida Fumio" not in people
    assert not {"Mr Sunak", "Dr Graham", "Sunak", "Kishida", "Graham"} & people
    # bylines and follow-us lines are not where entities come from
    assert not {"Andrew Chuter", "Kana Inagaki", "Demetri Sevastopulo", "John Paul Rathbone"} & people
    uk = next(row for row in result.entities.to_pylist() if row["name"] == "United Kingdom")
    assert uk["country_code"] == "GBR" and {"Britain", "UK", "British"} <= set(uk["aliases"])


def test_one_canonical_reciprocal_access_agreement(seeds):
    articles, result = seeds
    agreements = [e for e in result.events.to_pylist() if e["event_type"] == "AGREE"]
    main = [e for e in agreements if e["short_name"] == "RAA" and "United Kingdom" in e["signatories"]]
    assert len(main) == 1
    event = main[0]
    assert event["name"] == "Reciprocal Access Agreement"
    assert event["signatories"] == ["Japan", "United Kingdom"] and event["signatory_codes"] == ["JPN", "GBR"]
    assert event["signers"] == ["Fumio Kishida", "Rishi Sunak"]
    assert event["article_count"] == 5
    assert event["status"] in ("planned", "signed")  # the seeds carry no publication dates
    reporting = {
        r["article_id"] for r in result.event_mentions.to_pylist() if r["event_id"] == event["event_id"]
    }
    assert reporting == {a.article_id for a in articles}


def test_other_agreements_keep_their_own_parties(seeds):
    _, result = seeds
    agreements = [e for e in result.events.to_pylist() if e["event_type"] == "AGREE"]
    others = [e for e in agreements if "United Kingdom" not in e["signatories"]]
    assert any(set(e["signatories"]) == {"Australia", "Japan"} for e in others)
    assert any(set(e["signatories"]) == {"England", "Japan"} and e["event_date"].year == 1613 for e in others)
    assert any(set(e["signatories"]) == {"Japan", "Philippines"} for e in others)
    for event in agreements:
        assert not {"China", "United States", "Italy", "Taiwan"} & set(event["signatories"]), event


def test_one_story(seeds):
    _, result = seeds
    stories = Counter(result.article_stories.column("story_id").to_pylist())
    assert list(stories.values()) == [5]
    assert result.stories.to_pylist()[0]["article_count"] == 5


def test_quotes_attributed(seeds):
    _, result = seeds
    entities = _entities(result)
    speakers = Counter(
        entities[row["speaker_entity_id"]]["name"]
        for row in result.quotes.to_pylist()
        if row["speaker_entity_id"]
    )
    for person in ("Rishi Sunak", "Euan Graham", "Zack Cooper", "Christopher Johnstone"):
        assert speakers[person] >= 1, (person, speakers)
    assert speakers["Rishi Sunak"] >= 4
