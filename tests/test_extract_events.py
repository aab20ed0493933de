"""Event rules on short articles written for these tests, through the real extract stage and spaCy model:
parties scoped to their own clause, coreference of unnamed mentions, exercises, acronyms, company
deals, status cues, relative dates, hard-wrapped wire copy."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from flows.config import ExtractConfig
from flows.records import Article, sha256_hex
from flows.stages.extract import extract, load_nlp
from flows.stages.extract.dates import resolve_date
from flows.stages.extract.events import _status
from flows.stages.extract.nlp import _split_lines

pytestmark = pytest.mark.unit

CFG = ExtractConfig()


@pytest.fixture(scope="module")
def nlp():
    return load_nlp(CFG.spacy_model)


def _article(
    article_id: str, text: str, when: str = "2024-03-06T09:00:00", source: str = "test-wire"
) -> Article:
    published = datetime.fromisoformat(when).replace(tzinfo=UTC)
    return Article(
        article_id, article_id, source, None, None, None, published, "en", None, text,
        len(text.split()), sha256_hex(text), published,
    )  # fmt: skip


def _events(nlp, *articles: Article, event_type: str = "AGREE") -> list[dict]:
    result = extract(list(articles), CFG, nlp=nlp)
    mentions: dict[str, set[str]] = {}
    for row in result.event_mentions.to_pylist():
        mentions.setdefault(row["event_id"], set()).add(row["article_id"])
    events = [dict(e, articles=mentions.get(e["event_id"], set())) for e in result.events.to_pylist()]
    if event_type != "AGREE":
        arguments: dict[str, set[str]] = {}
        names = {e["entity_id"]: e["name"] for e in result.entities.to_pylist()}
        for row in result.event_arguments.to_pylist():
            if row["role"] == "participant":
                arguments.setdefault(row["event_id"], set()).add(names[row["entity_id"]])
        for e in events:
            e["participants"] = arguments.get(e["event_id"], set())
    return [e for e in events if e["event_type"] == event_type]


def test_parties_stay_with_their_own_agreement_in_one_sentence(nlp):
    text = (
        "Poland's new energy security agreement with Norway, signed in Oslo on Tuesday by Marek Zielinski "
        "and Helga Strand, follows the template of the pact Warsaw reached with Copenhagen a year "
        "earlier.\n\n"
        "The Danish pact, signed in March 2023, set up shared gas reserves.\n\n"
        "The Norwegian agreement must still be approved by Poland's parliament."
    )
    events = _events(nlp, _article("two-pacts", text))
    parties = sorted(tuple(e["signatories"]) for e in events)
    assert parties == [("Denmark", "Poland"), ("Norway", "Poland")]
    norway = next(e for e in events if "Norway" in e["signatories"])
    assert set(norway["signers"]) == {"Marek Zielinski", "Helga Strand"}
    denmark = next(e for e in events if "Denmark" in e["signatories"])
    assert denmark["signers"] == [] and denmark["event_date"] == date(2023, 3, 1)


def test_unnamed_report_joins_the_named_agreement_of_another_outlet(nlp):
    named = _article(
        "named",
        "Poland and Norway signed the Baltic Energy Security Agreement in Oslo on Tuesday. Polish Prime "
        "Minister Marek Zielinski and Norwegian Energy Minister Helga Strand signed the agreement.",
        "2024-03-06T08:00:00",
        "outlet-a",
    )
    unnamed = _article(
        "unnamed",
        "Poland's new energy agreement with Norway, signed in Oslo on Tuesday by Marek Zielinski and Helga "
        "Strand, sets up shared gas reserves. The deal still needs the approval of Poland's parliament.",
        "2024-03-06T12:00:00",
        "outlet-b",
    )
    events = _events(nlp, named, unnamed)
    assert len(events) == 1
    assert events[0]["articles"] == {"named", "unnamed"} and events[0]["source_count"] == 2
    assert events[0]["name"] == "Baltic Energy Security Agreement"
    assert events[0]["signatories"] == ["Norway", "Poland"]


def test_generic_kind_mentions_are_not_the_agreement(nlp):
    text = (
        "Poland and Norway signed an energy security agreement on Tuesday. What does an energy security "
        "agreement cover? Japan's first such pact took three years to negotiate."
    )
    events = _events(nlp, _article("kinds", text))
    assert [e["signatories"] for e in events] == [["Norway", "Poland"]]


def test_acronym_in_brackets_fills_the_short_name(nlp):
    text = (
        "Chile and Vietnam signed a Fisheries Data Sharing Agreement (FDSA) in Hanoi on Monday.\n\n"
        "Under the FDSA, both fleets will report their catch every week."
    )
    events = _events(nlp, _article("acronym", text))
    assert len(events) == 1
    assert events[0]["name"] == "Fisheries Data Sharing Agreement" and events[0]["short_name"] == "FDSA"
    assert events[0]["signatories"] == ["Chile", "Vietnam"]


def test_exercise_participants_from_demonyms_named_later_and_generic_plurals_ignored(nlp):
    text = (
        "Estonian and Latvian troops began a ten-day joint exercise near their shared border on Monday.\n\n"
        "The exercise, called Amber Shield, involves about 3,000 soldiers from both countries.\n\n"
        "Russia's foreign ministry has routinely criticised Baltic exercises near its frontier."
    )
    exercises = _events(nlp, _article("drill", text, "2024-02-12T10:00:00"), event_type="EXERCISE")
    assert len(exercises) == 1
    assert exercises[0]["name"] == "Amber Shield"
    assert exercises[0]["participants"] == {"Estonia", "Latvia"}


def test_a_company_deal_names_the_companies_not_their_home_states(nlp):
    text = (
        "Norwegian energy firm Halvard Energy signed a supply agreement with Brazil's Coroa Mining on "
        "Monday.\n\nA second deal, between Coroa Mining and the Atlantica Rail Group (ARG), will carry "
        "the ore to the coast.\n\nNorwegian officials said the deal showed the industry could find ore "
        "abroad."
    )
    events = _events(nlp, _article("companies", text))
    parties = sorted(tuple(e["signatories"]) for e in events)
    assert parties == [("Atlantica Rail Group", "Coroa Mining"), ("Coroa Mining", "Halvard Energy")]


def test_blocs_talks_and_withdrawal(nlp):
    text = (
        "The European Union and Mercosur resumed talks on a free trade agreement in Brussels on Thursday.\n\n"
        "Separately, Argentina pulled out of a fisheries pact with Uruguay last month."
    )
    article = _article("blocs", text, "2024-09-20T16:00:00")
    events = {tuple(e["signatories"]): e for e in _events(nlp, article)}
    assert set(events) == {("European Union", "Mercosur"), ("Argentina", "Uruguay")}
    assert events[("European Union", "Mercosur")]["status"] == "negotiating"
    assert events[("Argentina", "Uruguay")]["status"] == "rejected"
    assert events[("Argentina", "Uruguay")]["event_date"] == date(2024, 8, 1)


def test_hard_wrapped_wire_copy_with_a_former_state(nlp):
    text = (
        "Finland and the Soviet Union signed a timber\nbarter accord under which Finnish mills will take "
        "Soviet logs,\nFinnish trade officials said.\n    The accord runs for five years."
    )
    events = _events(nlp, _article("wire", text, "1987-04-03T12:00:00"))
    assert [(e["signatories"], e["status"]) for e in events] == [(["Finland", "Soviet Union"], "signed")]
    assert events[0]["signatory_codes"] == ["FIN"]  # a former state has no ISO 3166-1 code


def test_a_short_line_continues_when_the_next_opens_in_lower_case():
    text = "Chile and Vietnam signed a fisheries\nagreement on Monday.\nA new paragraph starts here."
    pieces = [text[a:b] for a, b in _split_lines(text, 0, len(text))]
    assert pieces == [
        "Chile and Vietnam signed a fisheries\nagreement on Monday.",
        "A new paragraph starts here.",
    ]


@pytest.mark.parametrize(
    ("sentence", "status"),
    [
        ("The US has refused to sign the treaty.", "rejected"),
        ("Its unwillingness to sign the treaty angered allies.", "rejected"),
        ("Argentina pulled out of the pact in May.", "rejected"),
        ("Loans will follow once the agreement with the lenders is signed.", "planned"),
        ("Both parliaments have ratified the treaty.", "signed"),
        ("Tokyo concluded a similar agreement with Canberra.", "signed"),
        ("The two countries formalised the deal on Monday.", "signed"),
    ],
)
def test_status_cues(sentence, status):
    word = next(w for w in ("treaty", "agreement", "pact", "deal") if w in sentence)
    pos = sentence.find(word)
    assert _status(sentence, 0, len(sentence), pos, pos + len(word))[0] == status


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a year earlier", date(2023, 1, 1)),
        ("two years ago", date(2022, 1, 1)),
        ("3 months ago", date(2024, 9, 1)),
        ("next month", date(2025, 1, 1)),
        ("years ago", None),
    ],
)
def test_counted_back_dates(expression, expected):
    assert resolve_date(expression, date(2024, 12, 15), "past") == expected
