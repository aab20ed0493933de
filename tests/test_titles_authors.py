"""Headlines without the site's name, and bylines as lists of persons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.config import CleanConfig
from flows.records import Item
from flows.stages.clean import clean_items
from flows.stages.cleaning.authors import normalise_case, split_authors
from flows.stages.cleaning.titles import host_keys, recurring_affixes, site_keys, strip_site_name

pytestmark = pytest.mark.unit
FETCHED_AT = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(("title", "site", "url", "expected"), [
    ("Sheep return to the high fells | Moor Gazette", "Moor Gazette", None, "Sheep return to the high fells"),
    ("Moor Gazette - Sheep return to the high fells", "Moor Gazette", None, "Sheep return to the high fells"),
    # Part of a site name with a tagline, and accents ignored.
    ("Ovce se vrací na hory | Horský Deník.cz", "Horský Deník.cz - Zprávy z hor", None, "Ovce se vrací na hory"),
    # Company suffix on og:site_name; host name when the page gives no site name.
    ("Tidal barrage plan shelved - Estuary", "Estuary Inc", None, "Tidal barrage plan shelved"),
    ("Tidal barrage plan shelved - Wavewatch", None, "https://www.wavewatch.example/a/1",
     "Tidal barrage plan shelved"),
    ("Tidal barrage plan shelved - Wavewatch, the sea's own paper", None, "https://wavewatch.example/a",
     "Tidal barrage plan shelved"),
    # A separator inside a headline that names nothing known stays.
    ("Fell race - results and times", "Moor Gazette", "https://moor.example/x", "Fell race - results and times"),
    # Never strip down to a single word.
    ("Budget | Moor Gazette", "Moor Gazette", None, "Budget | Moor Gazette"),
])
def test_site_name_is_cut_only_when_it_names_the_site(title, site, url, expected) -> None:
    assert strip_site_name(title, site_keys(site), host_keys(url)) == expected


def test_the_part_a_sources_titles_share_is_its_name() -> None:
    titles = ["Harbour wall repaired :: Northsea Wire", "Ferry fares frozen :: Northsea Wire",
              "Ferry fares frozen :: Northsea Wire",  # a copy: counted once
              "Storm closes the bridge"]
    affixes = recurring_affixes(titles)
    assert affixes == {"northseawire"}
    assert strip_site_name("Storm closes the bridge :: Northsea Wire", set(), affixes=affixes) == \
        "Storm closes the bridge"
    # Two copies of one story share their headline: that is not a site name.
    assert recurring_affixes(["Dock strike ends - Update", "Dock strike ends - Update"]) == set()


def _page(head: str) -> str:
    body = " ".join(["Harbour officials approved a new timetable after months of complaints."] * 4)
    return f"<html><head>{head}</head><body><article><p>{body}</p></article></body></html>"


def test_clean_stage_titles_prefer_social_headlines_and_cut_the_site_name() -> None:
    def title(head: str, url: str | None = None) -> str | None:
        item = Item(doc_id="d", source="s", uri=url or "mem://p", format="html", content=_page(head),
                    fetched_at=FETCHED_AT, url=url)
        [article], _ = clean_items([item], CleanConfig())
        return article.title

    # og:title beats <title>.
    assert title('<title>Old headline | Moor Gazette</title><meta property="og:title" content="New headline">') \
        == "New headline"
    # og:title keeps an affix unless the page's other headline drops it.
    assert title('<meta property="og:title" content="Timetable agreed | Moor Gazette">'
                 '<meta name="twitter:title" content="Timetable agreed">') == "Timetable agreed"
    assert title('<meta property="og:title" content="Timetable agreed at last">') == "Timetable agreed at last"
    # <title> loses the site name given by og:site_name or by the host.
    assert title('<title>Timetable agreed | Moor Gazette</title>'
                 '<meta property="og:site_name" content="Moor Gazette">') == "Timetable agreed"
    assert title("<title>Timetable agreed - Moorgazette</title>", "https://moorgazette.example/t") == \
        "Timetable agreed"


@pytest.mark.parametrize(("byline", "expected"), [
    ("By Jane Roe", ["Jane Roe"]),
    ("DANICA ROE; JILL LAWLESSAssociated Press", ["Danica Roe", "Jill Lawless"]),
    ("By Jane Roe and John Doe, Health Correspondent", ["Jane Roe", "John Doe"]),
    ("Jane Roe, Reuters", ["Jane Roe"]),
    ("Par Élodie Marchand et Jean-Luc Daubrée", ["Élodie Marchand", "Jean-Luc Daubrée"]),
    ("Von Jana Ruh und Piet Vos", ["Jana Ruh", "Piet Vos"]),
    ("By Nathan Roe\n March 25, 2015", ["Nathan Roe"]),
    ("By GILLIAN ROE March 11, 2015 3:46 PM", ["Gillian Roe"]),
    ("Brenda Roe, MA", ["Brenda Roe"]),
    ("Daniel Kahn Roe, HSPT Speech, Privacy, and Technology Project", ["Daniel Kahn Roe"]),
    ("Jane Roe & Jane Roe", ["Jane Roe"]),
    ("James Roe •", ["James Roe"]),
    ("Associated Press", []),
    ("Staff Writer", []),
    ("J J", []),
    ("", []),
    (None, []),
])
def test_bylines_become_lists_of_persons(byline, expected) -> None:
    assert split_authors(byline) == expected


def test_case_is_normalised_only_when_it_is_all_one_case() -> None:
    assert normalise_case("JANE O'ROE-SMITH") == "Jane O'Roe-Smith"
    assert normalise_case("jane roe") == "Jane Roe"
    assert normalise_case("Michiel de Jong") == "Michiel de Jong"
    assert normalise_case("DeShawn McDonald") == "DeShawn McDonald"


def test_article_author_is_the_joined_persons_of_authors() -> None:
    item = Item(doc_id="d", source="s", uri="mem://p", format="html",
                content=_page('<meta name="author" content="By JANE ROE and John Doe">'), fetched_at=FETCHED_AT)
    [article], _ = clean_items([item], CleanConfig())
    assert article.authors == ["Jane Roe", "John Doe"]
    assert article.author == "Jane Roe; John Doe"
