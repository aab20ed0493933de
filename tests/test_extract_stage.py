"""The extract stage end to end on the project's own fixture articles, with the real spaCy model.

The model is loaded once per session (load_nlp caches it); each module runs extract a few times.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from flows.config import ExtractConfig
from flows.evaluate import load_fixture_articles
from flows.stages.extract import SCHEMAS, ExtractPrior, ExtractResult, extract, load_nlp

pytestmark = pytest.mark.unit

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "warehouse" / "schema"
CFG = ExtractConfig()


@pytest.fixture(scope="session")
def nlp():
    return load_nlp(CFG.spacy_model)


@pytest.fixture(scope="session")
def articles():
    return {a.article_id: a for a in load_fixture_articles()}


@pytest.fixture(scope="session")
def result(nlp, articles) -> ExtractResult:
    return extract(list(articles.values()), CFG, nlp=nlp)


def _names(result: ExtractResult) -> dict[str, dict]:
    return {row["entity_id"]: row for row in result.entities.to_pylist()}


def _agreements(result: ExtractResult) -> list[dict]:
    return [e for e in result.events.to_pylist() if e["event_type"] == "AGREE"]


def _event_articles(result: ExtractResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in result.event_mentions.to_pylist():
        out.setdefault(row["event_id"], set()).add(row["article_id"])
    return out


def _ddl_columns(table: str) -> list[str]:
    ddl = (SCHEMA_DIR / f"{table}.sql").read_text(encoding="utf-8")
    create = ddl.index("CREATE TABLE")
    body = ddl[ddl.index("(", create) + 1 : ddl.rindex(")")]
    return [m.group(1) for m in re.finditer(r"^\s*(\w+)\s+[A-Z]", body, re.M)]


def test_load_nlp_is_cached_and_lean(nlp):
    assert load_nlp(CFG.spacy_model) is nlp
    assert "ner" in nlp.pipe_names and "sentencizer" in nlp.pipe_names
    for unneeded in ("tagger", "lemmatizer", "attribute_ruler", "parser"):
        assert unneeded not in nlp.pipe_names


def test_unknown_model_names_the_fix():
    with pytest.raises(ValueError, match="not installed"):
        load_nlp("no_such_spacy_model_xyz")


@pytest.mark.parametrize("table", list(SCHEMAS))
def test_tables_match_the_ddl(result, table):
    arrow: pa.Table = getattr(result, table)
    assert arrow.column_names == _ddl_columns(table)
    assert arrow.schema.equals(SCHEMAS[table])
    if table in ("events", "stories"):
        assert str(arrow.schema.field("first_seen").type) == "timestamp[us, tz=UTC]"
    if table == "events":
        assert arrow.schema.field("signatories").type == pa.list_(pa.string())
        assert arrow.schema.field("event_date").type == pa.date32()


def test_mentions_point_into_article_text(result, articles):
    rows = result.entity_mentions.to_pylist()
    assert rows
    for row in rows:
        assert articles[row["article_id"]].text[row["start_char"] : row["end_char"]] == row["mention"]
    for row in result.quotes.to_pylist():
        assert articles[row["article_id"]].text[row["start_char"] : row["end_char"]] == row["text"]
    for row in result.event_mentions.to_pylist():
        assert articles[row["article_id"]].text[row["start_char"] : row["end_char"]] == row["sentence"]
        assert 0.0 <= row["confidence"] <= 1.0


def test_no_entity_from_boilerplate_lines(result, articles):
    for row in result.entity_mentions.to_pylist():
        text = articles[row["article_id"]].text
        line_start = text.rfind("\n", 0, row["start_char"]) + 1
        line_end = text.find("\n", row["end_char"])
        line = text[line_start : line_end if line_end != -1 else len(text)]
        assert not re.search(r"newsletter|^follow .* on twitter|^more in\b", line, re.I), line


def test_people_are_canonical(result):
    people = {e["name"] for e in result.entities.to_pylist() if e["type"] == "PERSON"}
    assert {
        "Claire Dubois",
        "Haruki Tanaka",
        "Helen Marsh",
        "Mark Ellison",
        "Tom Reid",
        "Ingrid Lunde",
    } <= people
    assert "Tanaka Haruki" not in people, "family-name-first form is normalised"
    assert not {p for p in people if p.startswith(("Ms ", "Mr ", "Dr "))}, "titles are stripped"
    aliases = {e["name"]: set(e["aliases"]) for e in result.entities.to_pylist()}
    assert {"Tanaka Haruki", "Tanaka"} <= aliases["Haruki Tanaka"]


def test_capitals_as_government_and_as_place(result):
    entities = _names(result)
    f01 = [r for r in result.entity_mentions.to_pylist() if r["article_id"] == "f01_london"]
    by_mention = {(r["mention"], entities[r["entity_id"]]["name"]) for r in f01}
    assert ("London", "United Kingdom") in by_mention, "'London called the deal' is the government"
    assert ("London", "London") in by_mention, "'talks in London' is the place"
    assert ("Oslo", "Norway") in by_mention
    e01 = {
        (r["mention"], entities[r["entity_id"]]["name"])
        for r in result.entity_mentions.to_pylist()
        if r["article_id"] == "e01_rejected"
    }
    assert ("Brussels", "European Union") in e01


def test_the_main_agreement_merges_across_outlets(result):
    sia = [e for e in _agreements(result) if e["name"] == "Security of Information Agreement"]
    assert len(sia) == 1
    event = sia[0]
    assert event["short_name"] == "SIA"
    assert event["signatories"] == ["Canada", "Japan"] and event["signatory_codes"] == ["CAN", "JPN"]
    assert event["signers"] == ["Claire Dubois", "Haruki Tanaka"]
    assert event["status"] == "signed", "the latest report (8 May) says signed"
    assert event["article_count"] == 4 and event["source_count"] == 4
    assert str(event["event_date"]) == "2024-05-08"
    assert _event_articles(result)[event["event_id"]] == {
        "a01_sia_planned",
        "a02_sia_signed",
        "a03_sia_quotes",
        "a04_sia_talks",
    }
    roles = Counter(
        r["role"] for r in result.event_arguments.to_pylist() if r["event_id"] == event["event_id"]
    )
    assert roles["signatory"] == 2 and roles["signer"] == 2


def test_status_in_article_follows_each_report(result):
    statuses = {
        (row["article_id"], row["status_in_article"])
        for row in result.event_mentions.to_pylist()
        if row["article_id"].startswith("a0") and "Security of Information" in row["sentence"]
    }
    assert ("a01_sia_planned", "planned") in statuses
    assert ("a04_sia_talks", "negotiating") in statuses
    assert ("a02_sia_signed", "signed") in statuses


def test_other_agreements_are_separate_with_their_own_parties(result):
    agreements = _agreements(result)
    older = [e for e in agreements if e["event_date"] and e["event_date"].year == 1954]
    assert len(older) == 1 and older[0]["signatories"] == ["Canada", "Japan"]
    italy = [e for e in agreements if "Italy" in e["signatories"]]
    assert len(italy) == 1 and italy[0]["signatories"] == ["Italy", "Japan"]
    for event in agreements:
        assert not {"China", "Russia", "United States", "Germany", "Austria"} & set(event["signatories"]), (
            event
        )


def test_rejected_and_company_agreements(result):
    by_name = {e["name"]: e for e in _agreements(result)}
    framework = by_name["Institutional Framework Agreement"]
    assert framework["status"] == "rejected"
    assert framework["signatories"] == ["European Union", "Switzerland"]
    assert framework["signatory_codes"] == ["CHE"], "codes only for parties that are states"
    carbon = by_name["North Sea Carbon Storage Agreement"]
    assert carbon["signatories"] == ["Norway", "United Kingdom"] and carbon["signers"] == [
        "Ingrid Lunde",
        "Tom Reid",
    ]
    assert carbon["location"] == "London"
    companies = [e for e in _agreements(result) if "Harbour Grid" in e["signatories"]]
    assert companies and companies[0]["signatories"] == ["Harbour Grid", "Nordlys Energy"]


def test_meeting_exercise_and_policy(result):
    events = result.events.to_pylist()
    entities = _names(result)
    arguments: dict[str, set[tuple[str, str]]] = {}
    for row in result.event_arguments.to_pylist():
        arguments.setdefault(row["event_id"], set()).add((row["role"], entities[row["entity_id"]]["name"]))
    meeting = [e for e in events if e["event_type"] == "MEET"]
    assert len(meeting) == 1 and meeting[0]["article_count"] == 2
    assert {("participant", "Daniel Hartley"), ("participant", "Budi Santoso")} <= arguments[
        meeting[0]["event_id"]
    ]
    exercise = [e for e in events if e["event_type"] == "EXERCISE" and e["name"] == "Coastal Shield"]
    assert len(exercise) == 1
    assert {("participant", "Australia"), ("participant", "Philippines")} <= arguments[
        exercise[0]["event_id"]
    ]
    assert ("participant", "China") not in arguments[exercise[0]["event_id"]]
    policy = [e for e in events if e["event_type"] == "POLICY"]
    assert policy and "4.5% of GDP by 2026" in policy[0]["name"]
    assert ("actor", "Poland") in arguments[policy[0]["event_id"]]


def test_quotes_have_speakers(result):
    entities = _names(result)
    speakers = {
        (row["article_id"], row["text"][:20]): entities[row["speaker_entity_id"]]["name"]
        for row in result.quotes.to_pylist()
        if row["speaker_entity_id"]
    }
    assert speakers[("a03_sia_quotes", "Today that changes. ")] == "Claire Dubois", "a quote running on"
    assert speakers[("a03_sia_quotes", "matters less for wha")] == "Mark Ellison", "according to X"
    assert speakers[("a01_sia_planned", "a quiet but importan")] == "Helen Marsh", (
        "Dr X, a fellow at Y, described"
    )
    assert speakers[("b01_meeting", "Indonesia's stabilit")] == "Daniel Hartley", "said Mr X"


def test_stories_group_the_outlets(result):
    stories = Counter(result.article_stories.column("story_id").to_pylist())
    story_of = {r["article_id"]: r["story_id"] for r in result.article_stories.to_pylist()}
    assert (
        len({story_of[a] for a in ("a01_sia_planned", "a02_sia_signed", "a03_sia_quotes", "a04_sia_talks")})
        == 1
    )
    assert story_of["b01_meeting"] == story_of["b02_meeting"] != story_of["a01_sia_planned"]
    assert story_of["f01_london"] != story_of["g01_company"]
    # every other fixture article is a story of its own
    assert sorted(stories.values()) == [1] * (len(story_of) - 6) + [2, 4]
    rows = {r["story_id"]: r for r in result.stories.to_pylist()}
    assert rows[story_of["a01_sia_planned"]]["article_count"] == 4


def test_same_input_gives_same_ids(nlp, articles, result):
    again = extract(list(articles.values()), CFG, nlp=nlp)
    assert sorted(again.events.column("event_id").to_pylist()) == sorted(
        result.events.column("event_id").to_pylist()
    )
    assert again.article_stories.to_pylist() == result.article_stories.to_pylist()


def _prior_from(results: list[ExtractResult], articles) -> ExtractPrior:
    """What the warehouse holds after applying the results with the documented write rules."""
    by_key = {"entities": "entity_id", "events": "event_id", "stories": "story_id"}
    per_article = ("entity_mentions", "event_mentions", "quotes", "article_stories")
    state: dict[str, list[dict]] = {name: [] for name in SCHEMAS}
    for res in results:
        for name, key in by_key.items():
            new = getattr(res, name).to_pylist()
            ids = {row[key] for row in new}
            state[name] = [r for r in state[name] if r[key] not in ids] + new
        for name in per_article:
            new = getattr(res, name).to_pylist()
            ids = {row["article_id"] for row in new}
            state[name] = [r for r in state[name] if r["article_id"] not in ids] + new
        new = res.event_arguments.to_pylist()
        ids = {row["event_id"] for row in new}
        state["event_arguments"] = [r for r in state["event_arguments"] if r["event_id"] not in ids] + new
    tables = {
        name: pa.Table.from_pylist(state[name], schema=SCHEMAS[name])
        for name in ("entities", "events", "event_arguments", "event_mentions", "stories", "article_stories")
    }
    tables["articles"] = pa.Table.from_pylist(
        [
            {
                "article_id": a.article_id,
                "source": a.source,
                "published_at": a.published_at,
                "fetched_at": a.fetched_at,
                "title": a.title,
            }
            for a in articles
        ]
    )
    return ExtractPrior.from_arrow(tables)


def test_cross_run_merging_updates_counts_status_and_story(nlp, articles, result):
    first_run = [articles["a04_sia_talks"], articles["a01_sia_planned"]]
    first = extract(first_run, CFG, nlp=nlp)
    sia_first = [e for e in _agreements(first) if e["short_name"] == "SIA"]
    assert len(sia_first) == 1 and sia_first[0]["status"] == "planned" and sia_first[0]["article_count"] == 2
    prior = _prior_from([first], first_run)

    second_run = [articles["a02_sia_signed"], articles["a03_sia_quotes"]]
    second = extract(second_run, CFG, prior=prior, nlp=nlp)
    sia = [e for e in _agreements(second) if e["short_name"] == "SIA"]
    assert len(sia) == 1
    assert sia[0]["event_id"] == sia_first[0]["event_id"], "the later run adds to the stored event"
    assert sia[0]["article_count"] == 4 and sia[0]["source_count"] == 4
    assert sia[0]["status"] == "signed"
    assert sia[0]["first_seen"] < sia[0]["last_seen"]
    first_story = {r["story_id"] for r in first.article_stories.to_pylist()}
    second_story = {
        r["story_id"] for r in second.article_stories.to_pylist() if r["article_id"].startswith("a0")
    }
    assert first_story == second_story
    story_row = next(r for r in second.stories.to_pylist() if r["story_id"] in first_story)
    assert story_row["article_count"] == 4
    # a run that sees an article again does not double count it
    third = extract(
        [articles["a02_sia_signed"]], CFG, prior=_prior_from([first, second], first_run + second_run), nlp=nlp
    )
    assert [e["article_count"] for e in _agreements(third) if e["short_name"] == "SIA"] == [4]


def test_exact_duplicates_count_for_events_and_story(nlp, articles):
    original = articles["a02_sia_signed"]
    copy = dataclasses.replace(
        original, article_id="a02_copy", source="Syndicated Daily", duplicate_of=original.article_id
    )
    out = extract([original, copy], CFG, nlp=nlp)
    sia = [e for e in _agreements(out) if e["short_name"] == "SIA"]
    assert sia[0]["article_count"] == 2 and sia[0]["source_count"] == 2
    story_of = {r["article_id"]: r["story_id"] for r in out.article_stories.to_pylist()}
    assert story_of["a02_copy"] == story_of[original.article_id]
    assert "a02_copy" not in set(out.entity_mentions.column("article_id").to_pylist()), "no NLP for copies"


def test_a_bad_article_is_rejected_and_the_batch_goes_on(nlp, articles):
    good = articles["b02_meeting"]
    empty = dataclasses.replace(good, article_id="empty-one", text="   ")
    huge = dataclasses.replace(good, article_id="huge-one", text="word " * (nlp.max_length // 5 + 1))
    out = extract([empty, good, huge], CFG, nlp=nlp)
    assert {r.input for r in out.rejects} == {good.url}
    assert len(out.rejects) == 2 and all(r.stage == "extract" for r in out.rejects)
    assert any("max_length" in r.error and "huge-one" in r.error for r in out.rejects)
    assert set(out.entity_mentions.column("article_id").to_pylist()) == {"b02_meeting"}


def test_empty_batch_and_empty_prior():
    out = extract([], CFG, prior=ExtractPrior.empty())
    assert all(t.num_rows == 0 for t in out.tables().values())


def _allowed(table: str, column: str) -> set[str]:
    suite = json.loads((SCHEMA_DIR.parents[1] / "expectations" / f"{table}.json").read_text(encoding="utf-8"))
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        if expectation["type"] == "expect_column_values_to_be_in_set" and kwargs.get("column") == column:
            return set(kwargs["value_set"])
    pytest.skip(f"expectations/{table}.json has no value set for {column}")


def test_values_meet_the_warehouse_expectations(result):
    assert set(result.entity_mentions.column("label").to_pylist()) <= _allowed("entity_mentions", "label")
    assert set(result.entities.column("type").to_pylist()) <= _allowed("entities", "type")
    assert set(result.event_arguments.column("role").to_pylist()) <= _allowed("event_arguments", "role")
    statuses = set(result.events.column("status").to_pylist()) - {None}
    assert statuses <= _allowed("events", "status")
    for event in _agreements(result):
        if event["status"] == "signed":
            assert len(event["signatories"]) >= 2, event
    entity_ids = set(result.entities.column("entity_id").to_pylist())
    assert set(result.event_arguments.column("entity_id").to_pylist()) <= entity_ids
    assert set(result.entity_mentions.column("entity_id").to_pylist()) <= entity_ids
    story_ids = set(result.stories.column("story_id").to_pylist())
    assert set(result.events.column("story_id").to_pylist()) <= story_ids
