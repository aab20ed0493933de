"""Unit tests of the extract stage's rules, no spaCy: dates, gazetteer, people, capitals, quotes,
agreement names, status cues, story similarity."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from flows.stages.extract.dates import resolve_date
from flows.stages.extract.entities import EntityResolver, _strip_span, capital_acts_as_government
from flows.stages.extract.events import _status, find_agreement_names, initials, names_compatible
from flows.stages.extract.gazetteer import EntityRef, load_gazetteer
from flows.stages.extract.people import PersonIndex, clean_person_span
from flows.stages.extract.quotes import quote_spans
from flows.stages.extract.stories import content_words, cosine, weighted_jaccard

pytestmark = pytest.mark.unit

WEDNESDAY_JAN_11 = date(2023, 1, 11)
MONDAY_NOV_14 = date(2022, 11, 14)


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer()


@pytest.mark.parametrize(
    ("expression", "reference", "tense", "expected"),
    [
        ("on Wednesday", date(2023, 1, 9), "future", date(2023, 1, 11)),
        ("Wednesday", date(2023, 1, 12), "past", date(2023, 1, 11)),
        ("last January", WEDNESDAY_JAN_11, "past", date(2022, 1, 1)),
        ("in December", MONDAY_NOV_14, "future", date(2022, 12, 1)),
        ("in January", MONDAY_NOV_14, "past", date(2022, 1, 1)),
        ("last month", WEDNESDAY_JAN_11, "unknown", date(2022, 12, 1)),
        ("11 January 2023", MONDAY_NOV_14, "unknown", date(2023, 1, 11)),
        ("January 11", date(2022, 12, 20), "future", date(2023, 1, 11)),
        ("1613", WEDNESDAY_JAN_11, "unknown", date(1613, 1, 1)),
        ("more than a century", WEDNESDAY_JAN_11, "unknown", None),
        ("the past 12 months", WEDNESDAY_JAN_11, "unknown", None),
        ("yesterday", WEDNESDAY_JAN_11, "past", date(2023, 1, 10)),
    ],
)
def test_resolve_date(expression, reference, tense, expected):
    assert resolve_date(expression, reference, tense) == expected


def test_gazetteer_maps_names_demonyms_and_capitals(gaz):
    uk = gaz.lookup("Britain")
    assert uk.name == "United Kingdom" and uk.country_code == "GBR" and uk.wikidata_id == "Q145"
    for alias in ("UK", "the United Kingdom", "U.K."):
        assert gaz.lookup(alias) == uk
    assert gaz.by_demonym["british"] == uk
    assert gaz.government_seat["london"] == uk
    assert gaz.capital_place["london"].name == "London" and gaz.capital_place["london"].type == "GPE"
    assert gaz.lookup("Group of Seven").name == "G7"
    assert gaz.lookup("North Atlantic Treaty Organization").name == "NATO"
    assert gaz.government_seat["brussels"].name == "European Union"
    # an id is only there when it is certain; unknown ones stay empty, never guessed
    assert gaz.lookup("AUKUS").wikidata_id is None


def test_every_pycountry_state_is_in_the_gazetteer(gaz):
    import pycountry

    codes = {ref.country_code for ref in gaz.by_alias.values() if ref.is_state}
    assert {c.alpha_3 for c in pycountry.countries} <= codes


@pytest.mark.parametrize(
    ("text", "government"),
    [
        ("The deal was what London called a milestone.", True),
        ("London and Tokyo agreed to start talks.", True),
        ("the prospect of closer ties between Tokyo and Manila", True),
        ("Talks were held in London on Tuesday.", False),
        ("LONDON — Britain has signed a deal.", False),
        ("during a visit to London by the Japanese leader", False),
        ("Beijing poses a systemic challenge.", True),
    ],
)
def test_capital_as_government_or_place(text, government):
    for name in ("London", "LONDON", "Tokyo", "Beijing"):
        start = text.find(name)
        if start != -1:
            break
    assert capital_acts_as_government(text, start, start + len(name)) is government


def test_strip_span_drops_article_and_possessive():
    text = "the Tower of London’s walls"
    start, end = _strip_span(text, 0, len("the Tower of London’s"))
    assert text[start:end] == "Tower of London"


def test_titles_are_stripped_and_royal_titles_kept(gaz):
    text = "British Prime Minister Rishi Sunak met Dr Euan Graham and King James."
    name = clean_person_span(text, text.find("Prime"), text.find(" met"), gaz)
    assert name.tokens == ("Rishi", "Sunak") and name.title == "prime minister"
    graham = clean_person_span(text, text.find("Dr"), text.find(" and"), gaz)
    assert graham.tokens == ("Euan", "Graham")
    assert clean_person_span("on Monday", 3, 9, gaz) is None, "a weekday NER tagged PERSON is no name"
    assert clean_person_span("the 2021 team", 4, 13, gaz) is None


def _index(gaz, forms: dict[str, list[tuple[str, ...]]], singles=(), prior=()):
    index = PersonIndex(gaz, list(prior))
    for article_id, names in forms.items():
        for tokens in names:
            index.add_full_name(tokens, article_id)
    for word in singles:
        index.add_single_word(word)
    index.finalise()
    return index


def test_japanese_family_name_first_is_reordered(gaz):
    index = _index(gaz, {"a": [("Kishida", "Fumio")]})
    assert index.canonical(("Kishida", "Fumio")).name == "Fumio Kishida"


def test_chinese_name_order_is_kept(gaz):
    index = _index(gaz, {"a": [("Li", "Qiang")]})
    assert index.canonical(("Li", "Qiang")).name == "Li Qiang"


def test_both_orders_settled_by_the_surname_used_alone(gaz):
    # neither word is a listed family name: the word used alone ("Iwaya said") is the family name
    index = _index(
        gaz, {"a": [("Iwaya", "Takeshi")], "b": [("Takeshi", "Iwaya")]}, singles=["Iwaya", "Iwaya"]
    )
    assert index.canonical(("Iwaya", "Takeshi")).name == "Takeshi Iwaya"
    assert index.canonical(("Takeshi", "Iwaya")).name == "Takeshi Iwaya"


def test_surname_resolves_within_article_and_glued_surnames_split(gaz):
    index = _index(gaz, {"a": [("Rishi", "Sunak"), ("Kishida", "Fumio"), ("Kishida", "Sunak")]})
    people = index.article_index("a")
    assert people.resolve_single("Sunak").name == "Rishi Sunak"
    assert people.resolve_single("Kishida").name == "Fumio Kishida"
    assert ("kishida", "sunak") in people.glued
    assert index.resolve_single_in_run("Sunak").name == "Rishi Sunak"


def test_prior_person_is_reused_across_runs(gaz):
    prior = [EntityRef("Fumio Kishida", "PERSON", kind="person")]
    index = _index(gaz, {"a": [("Kishida", "Fumio")]}, prior=prior)
    assert index.canonical(("Kishida", "Fumio")).entity_id == prior[0].entity_id


def test_resolver_does_no_work_until_used(gaz):
    resolver = EntityResolver(gaz)
    assert resolver.people is not None and resolver.known_names == {}


def test_quote_spans_pair_marks_and_span_paragraphs():
    text = (
        "“First part, still open\n\n“and it goes on,” she said.\n\n"
        'He said "a straight quote" here and it’s ‘a single one’ too.'
    )
    spans = [text[s:e] for s, e, _ in quote_spans(text)]
    assert spans[0] == "First part, still open"
    assert spans[1] == "and it goes on,"
    assert "a straight quote" in spans
    assert "a single one" in spans
    assert not any("s ‘a" in s for s in spans), "an apostrophe does not open or close a quote"


def test_agreement_names_with_acronym_and_party_prefix(gaz):
    text = "The countries will sign a UK-Japan Reciprocal Access Agreement (RAA) soon."
    found = find_agreement_names(text, 0, len(text), gaz)
    assert found == [(text.find("Reciprocal"), text.find(" (RAA)"), "Reciprocal Access Agreement", "RAA")]
    text = "Britain has applied for membership of the Comprehensive and Progressive Agreement for Trans-Pacific Partnership."
    assert find_agreement_names(text, 0, len(text), gaz) == [], "a bloc's name is not an agreement event"
    text = "This Treaty on the Non-Proliferation of Nuclear Weapons binds them."
    assert (
        find_agreement_names(text, 0, len(text), gaz)[0][2]
        == "Treaty on the Non-Proliferation of Nuclear Weapons"
    )


def test_names_compatible_uses_initials():
    assert initials("Reciprocal Access Agreement") == "raa"
    assert names_compatible({"reciprocal access agreement"}, set(), set(), {"raa"}) is True
    assert names_compatible({"paris agreement"}, set(), {"reciprocal access agreement"}, set()) is False
    assert names_compatible(set(), set(), {"paris agreement"}, set()) is None


@pytest.mark.parametrize(
    ("sentence", "status"),
    [
        ("Britain and Japan are set to sign a defence deal.", "planned"),
        ("Britain has signed a defence deal with Japan.", "signed"),
        ("Negotiations on the deal began in 2021.", "negotiating"),
        ("The parliament rejected the agreement.", "rejected"),
        ("The agreement is expected to be signed at the Tower.", "planned"),
        ("The nations agreed to start talks on the pact in May.", "negotiating"),
    ],
)
def test_status_cue_nearest_the_trigger(sentence, status):
    for word in ("deal", "agreement", "pact"):
        pos = sentence.find(word)
        if pos != -1:
            break
    assert _status(sentence, 0, len(sentence), pos, pos + len(word))[0] == status


def test_story_similarity_parts():
    a = content_words("Canada and Japan sign an intelligence sharing agreement in Ottawa")
    b = content_words("Japan and Canada sign intelligence agreement")
    c = content_words("Football club wins the cup final after extra time")
    assert cosine(a, b) > 0.5 > cosine(a, c)
    assert weighted_jaccard(Counter({"x": 2, "y": 1}), Counter({"x": 1})) == pytest.approx(1 / 3)
