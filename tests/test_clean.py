"""Tests of the clean stage over fixtures written for wirelake (tests/fixtures/clean/)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from flows.config import CleanConfig
from flows.records import Article, Item, content_key
from flows.stages.clean import canonical_url, clean_items, detect_language
from flows.stages.cleaning.boilerplate import is_boilerplate_line, load_boilerplate_patterns
from flows.stages.cleaning.dateline import split_dateline
from flows.stages.cleaning.normalize import fingerprint_text, normalize_line

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "clean"
DEDUP_FIXTURES = REPO / "tests" / "fixtures" / "dedup"
SHARED = REPO.parent / "shared"
FETCHED_AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
GAZETTE_FILES = sorted((FIXTURES / "coastal_gazette").glob("*.txt"))


def make_item(path: Path, fmt: str = "text", source: str = "test-source", **hints: object) -> Item:
    return Item(
        doc_id=path.stem,
        source=source,
        uri=str(path),
        format=fmt,  # type: ignore[arg-type]
        content=path.read_text(encoding="utf-8", errors="replace"),
        fetched_at=FETCHED_AT,
        **hints,  # type: ignore[arg-type]
    )


def text_item(content: str, uri: str = "mem://item", source: str = "test-source", **hints: object) -> Item:
    return Item(
        doc_id=uri,
        source=source,
        uri=uri,
        format="text",
        content=content,
        fetched_at=FETCHED_AT,
        **hints,  # type: ignore[arg-type]
    )


def clean_one(item: Item, cfg: CleanConfig | None = None) -> Article:
    articles, rejects = clean_items([item], cfg or CleanConfig())
    assert rejects == [], rejects
    assert len(articles) == 1
    return articles[0]


# ------------------------------------------------------------------ boilerplate


@pytest.mark.unit
def test_ferry_story_loses_pattern_boilerplate_and_keeps_article_text() -> None:
    item = make_item(FIXTURES / "harbour_ferry.txt", title="Last Skerrin car ferry to stop sailing")
    article = clean_one(item)

    for boilerplate in (
        "Advertisement",
        "Sign up to our weekly newsletter",
        "Follow Marta Kowalczyk on Twitter",
        "Read more:",
        "Photo: Kestrel Marine",
        "Reporting by",
    ):
        assert boilerplate not in article.text, boilerplate
    # The trap: a real sentence that mentions a newsletter mid-paragraph stays.
    assert "Readers who signed up to the council's newsletter last year" in article.text
    assert article.text.startswith("The last car ferry between Porthaven")
    assert article.text.rstrip().endswith("was being considered.")


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        "Sign up to our weekly newsletter",
        "Subscribe to The Daily Planet for unlimited access",
        "Follow us on Twitter, Facebook and Instagram",
        "Follow Jane Roe on X",
        "More in Politics",
        "Read more: Island schools face staffing crisis",
        "Advertisement",
        "Share this article",
        "Click here to get the app",
        "We use cookies to give you the best experience on our site.",
        "Copyright 2024 Wexmoor Courier Ltd. All rights reserved.",
        "Related: Ferry operator posts loss",
        "Reporting by Jane Roe; Editing by John Doe",
        "Photo: Jane Roe/Reuters",
        "(Getty Images)",
        "Weekly NewsletterX",
        "Culture | Film | Reviews",
        "This report is carried under licence from Tidewater Press. Copyright (c) Tidewater Press.",
        "Redistribution prohibited.",
    ],
)
def test_boilerplate_patterns_match_whole_short_lines(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        "The minister said she would sign up to the newsletter scheme run by the regional council.",
        "Advertisement revenue at the group fell by a fifth in the second half of the year.",
        "Copyright lawyers said the ruling would make it harder to sue over song samples.",
        "Copyright Office officials said the rule was final.",
        "The band's licence to play in the square was withdrawn after complaints.",
        "More than 200 people attended the meeting on Tuesday evening.",
        "Related charities have also been asked to provide accounts to the regulator.",
        "He urged followers to subscribe to the channel, the court heard, before the post was deleted.",
        # Long line that contains a prompt at its start: longer than any boilerplate line.
        "Sign up to our newsletter was the slogan on every leaflet, and the campaign's organisers "
        "said more than ten thousand people had done so in the first week alone, many of them "
        "pensioners who had never used email before the pandemic.",
    ],
)
def test_boilerplate_patterns_leave_sentences_alone(line: str) -> None:
    assert not is_boilerplate_line(line)


@pytest.mark.unit
def test_pattern_file_is_valid_and_commented() -> None:
    patterns = load_boilerplate_patterns()
    assert len(patterns) >= 20
    assert all(not p.startswith("#") for p in patterns)
    text = (REPO / "flows" / "stages" / "cleaning" / "boilerplate_patterns.txt").read_text(encoding="utf-8")
    assert text.count("\n#") >= 5, "each group of patterns should say what it is for"


@pytest.mark.unit
def test_lines_recurring_across_a_sources_articles_are_removed() -> None:
    gazette = [make_item(p, source="coastal-gazette") for p in GAZETTE_FILES]
    assert len(gazette) == 3
    # The same footer once in another source's article: not recurring *there*, so kept.
    other_text = (FIXTURES / "coastal_gazette" / "pier.txt").read_text(encoding="utf-8")
    other = text_item(other_text.replace("Kelby", "Dunmore"), uri="mem://other", source="dunmore-news")

    articles, rejects = clean_items([*gazette, other], CleanConfig())

    assert rejects == []
    by_source = {a.source: [] for a in articles}
    for a in articles:
        by_source[a.source].append(a)
    for article in by_source["coastal-gazette"]:
        assert "Got a story?" not in article.text
        assert "published by Harbourline Media" not in article.text
        assert "Kelby" in article.text
    (dunmore,) = by_source["dunmore-news"]
    assert "Got a story? Call the newsdesk" in dunmore.text
    assert "published by Harbourline Media" in dunmore.text


@pytest.mark.unit
def test_recurring_rule_respects_min_articles_setting() -> None:
    gazette = [make_item(p, source="coastal-gazette") for p in GAZETTE_FILES]
    articles, _ = clean_items(gazette, CleanConfig(recurring_line_min_articles=4))
    assert all("Got a story?" in a.text for a in articles)


@pytest.mark.unit
def test_copies_of_one_story_in_a_source_keep_their_short_paragraphs() -> None:
    # Three copies/revisions of one story plus one other article from the same source:
    # their shared short paragraphs are the story, not the source's boilerplate.
    story = (DEDUP_FIXTURES / "rail_strike_original.txt").read_text(encoding="utf-8")
    revised = (DEDUP_FIXTURES / "rail_strike_revised.txt").read_text(encoding="utf-8")
    other = (DEDUP_FIXTURES / "rail_strike_same_topic.txt").read_text(encoding="utf-8")
    items = [
        text_item(story, uri="mem://a", source="northwire"),
        text_item(story, uri="mem://b", source="northwire"),
        text_item(revised, uri="mem://c", source="northwire"),
        text_item(other, uri="mem://d", source="northwire"),
    ]
    articles, _ = clean_items(items, CleanConfig(recurring_line_min_share=0.5))
    short_paragraph = "The operator warned passengers to travel only if necessary"
    assert short_paragraph in articles[0].text
    assert short_paragraph in articles[1].text
    assert articles[0].word_count == articles[1].word_count > 200


@pytest.mark.unit
def test_repeated_paragraph_is_kept_once() -> None:
    article = clean_one(make_item(FIXTURES / "harbour_ferry.txt"))
    quote = '"We were told on Tuesday with no warning at all," said Eilidh Rennie'
    assert article.text.count(quote) == 1
    # The first occurrence stays in place: before the newsletter paragraph.
    assert article.text.index(quote) < article.text.index("Readers who signed up")


@pytest.mark.unit
def test_short_repeated_paragraphs_are_not_deduplicated() -> None:
    body = " ".join(["The harbour board met on Monday to discuss the state of the pier."] * 3)
    content = f"{body}\n\nNo comment.\n\n{body} Repairs start in April.\n\nNo comment."
    article = clean_one(text_item(content), CleanConfig(min_repeated_paragraph_chars=40))
    assert article.text.count("No comment.") == 2


# ------------------------------------------------------------------ datelines


@pytest.mark.unit
def test_dateline_is_taken_out_of_the_text() -> None:
    article = clean_one(make_item(FIXTURES / "harbour_ferry.txt"))
    assert article.dateline == "PORTHAVEN"
    assert "Wire Service" not in article.text
    assert not article.text.startswith("PORTHAVEN")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("paragraph", "place", "rest_start"),
    [
        ("LONDON - The Bank of England held rates.", "LONDON", "The Bank"),
        ("TOKYO (Reuters) - Japan's exports rose.", "TOKYO", "Japan's"),
        ("WASHINGTON \u2014 The Senate voted.", "WASHINGTON", "The Senate"),
        ("Tokyo, Jan 11 (AP) \u2013 Prices rose.", "Tokyo", "Prices"),
        ("SAN FRANCISCO, Calif. (AP) \u2014 A fire broke out.", "SAN FRANCISCO, Calif.", "A fire"),
        ("NEW YORK, March 3 (Reuters) - Stocks fell.", "NEW YORK", "Stocks"),
        ("BEIJING, Jan. 5, 2024 (Xinhua) -- China said.", "BEIJING", "China"),
    ],
)
def test_dateline_shapes(paragraph: str, place: str, rest_start: str) -> None:
    found, rest = split_dateline(paragraph)
    assert found == place
    assert rest.startswith(rest_start)


@pytest.mark.unit
@pytest.mark.parametrize(
    "paragraph",
    [
        "US officials said - without giving details - that talks would resume.",
        "US - China talks resumed on Monday.",
        "US-China talks resumed on Monday.",
        "Washington - The city council met.",  # mixed case needs a date or an agency
        "BREAKING - A fire at the docks.",
        "LONDON - the rest of the sentence is lower case.",
        "The LONDON office - It closed.",
    ],
)
def test_sentence_starts_are_not_datelines(paragraph: str) -> None:
    assert split_dateline(paragraph) == (None, paragraph)


# ------------------------------------------------------------------ HTML


@pytest.mark.unit
def test_html_page_gives_main_text_and_metadata() -> None:
    article = clean_one(make_item(FIXTURES / "council_budget.html", fmt="html"))

    assert article.text.startswith("Wexmoor district council has approved a budget")
    assert "\n\n" in article.text and len(article.text.split("\n\n")) == 5
    for unwanted in ("Home", "Most read", "Disgraceful decision", "since 1962", "All rights reserved",
                     "We use cookies", "dataLayer", "Privacy policy"):
        assert unwanted not in article.text, unwanted
    # The title is metadata, not the first line of the text.
    assert article.title == "Council approves budget with cuts to libraries"
    assert not article.text.startswith(article.title)
    assert article.author == "Priya Natarajan"
    assert article.site_name == "Wexmoor Courier"
    assert article.published_at == datetime(2024, 2, 21, tzinfo=UTC)
    assert article.language == "en"
    assert article.canonical_url == "https://www.wexmoorcourier.example/news/council-budget-libraries"


@pytest.mark.unit
def test_item_hints_win_over_page_metadata_unless_empty() -> None:
    published = datetime(2024, 2, 22, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    item = make_item(
        FIXTURES / "council_budget.html",
        fmt="html",
        title="Libraries to close as council budget passes",
        author="",  # empty hint: the page's author is used
        published_at=published,
        url="https://feeds.example/wexmoor/budget?utm_source=rss&utm_medium=feed",
    )
    article = clean_one(item)
    assert article.title == "Libraries to close as council budget passes"
    # The page's own headline is not left at the top of the text either.
    assert not article.text.startswith("Council approves budget")
    assert article.author == "Priya Natarajan"
    assert article.published_at == datetime(2024, 2, 22, 7, 30, tzinfo=UTC)
    assert article.published_at.tzinfo == UTC
    assert article.url == item.url
    assert article.canonical_url == "https://feeds.example/wexmoor/budget"
    assert article.article_id == content_key(article.canonical_url, article.content_hash)


_STRUCTURED_PAGE = """<!doctype html><html lang="en"><head>
<title>Night trains return to the coast line - Saltmarsh Herald</title>
<meta property="og:site_name" content="Saltmarsh Herald">
<script type="application/ld+json">{"@type": "NewsArticle",
 "author": [{"@type": "Person", "name": "Noor Haddad"}, {"@type": "Person", "name": "Piet Vos"}],
 "datePublished": "2024-06-03T23:40:00-04:00"}</script>
</head><body><article><h1>Night trains return to the coast line</h1>
<p>Sleeper services between the port and the capital will run again from September, the operator
said on Monday, ending a four-year gap caused by a shortage of carriages and drivers.</p>
<p>Tickets go on sale next week. The operator said fares would match those of the daytime
services for seats, with cabins priced separately and discounts for railcard holders.</p>
</article></body></html>"""


@pytest.mark.unit
def test_html_metadata_comes_from_the_page_reader_with_time_of_day() -> None:
    item = Item(doc_id="trains", source="test-source", uri="mem://trains", format="html",
                content=_STRUCTURED_PAGE, fetched_at=FETCHED_AT)
    article = clean_one(item)
    assert article.author == "Noor Haddad; Piet Vos"
    assert article.site_name == "Saltmarsh Herald"
    # The title loses the site-name suffix and is not repeated as the text's first line.
    assert article.title == "Night trains return to the coast line"
    assert article.text.startswith("Sleeper services")
    # The page's timestamp is kept to the minute and moved to UTC (the next day there).
    assert article.published_at == datetime(2024, 6, 4, 3, 40, tzinfo=UTC)

    with_hints = clean_one(Item(doc_id="trains", source="test-source", uri="mem://trains", format="html",
                                content=_STRUCTURED_PAGE, fetched_at=FETCHED_AT, author="INES MOREAU",
                                published_at=datetime(2024, 6, 5, tzinfo=UTC)))
    assert with_hints.author == "Ines Moreau"  # the hint wins, its case normalised
    assert with_hints.published_at == datetime(2024, 6, 5, tzinfo=UTC)


_SCRIPTED_PAGE = """<!doctype html><html lang="en"><head>
<title>Ferry fares frozen for the winter | Harbour Post</title>
<meta name="author" content="Ines Marlow">
<style>.story p { margin: 0 } .banner::after { content: "Subscribe today for full access"; }</style>
<script>window.dataLayer = [{"headline": "Ferry fares frozen", "text": "tracking copy that is not the story"}];</script>
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Ferry fares frozen for the winter",
 "datePublished": "2024-11-02T08:15:00+00:00", "publisher": {"name": "Harbour Post"}}</script>
</head><body>
<svg width="24" height="24"><title>Share on social media</title><path d="M1 1 L23 23"/><text x="2" y="20">Share</text></svg>
<article class="story">
<h1>Ferry fares frozen for the winter</h1>
<p>The island ferry company will keep its fares at this summer's level until March, its board
decided on Friday, after a season in which passenger numbers rose by a tenth.<script>loadAd("mid")</script>
The freeze covers foot passengers, cars and the weekly freight run.</p>
<p>Councillors had asked for the freeze in September, when fuel costs fell back from their
spring peak, and the company said it expected to cover the difference from the busier summer.</p>
<p>Season tickets for island residents stay at half the standard fare, as agreed last year with
the council, and the first sailing of the day keeps its early-morning discount.</p>
</article></body></html>"""


@pytest.mark.unit
def test_scripts_styles_and_svg_are_dropped_before_extraction_without_changing_it() -> None:
    """clean drops scripts (not JSON-LD), styles and SVG from its tree once the metadata is
    read; trafilatura would have deleted them anyway, so the text is what trafilatura gives on
    the whole page, the text after an inline script survives, and JSON-LD still gives the date."""
    import trafilatura

    article = clean_one(Item(doc_id="ferry", source="test-source", uri="mem://ferry", format="html",
                             content=_SCRIPTED_PAGE, fetched_at=FETCHED_AT))
    whole = trafilatura.bare_extraction(trafilatura.load_html(_SCRIPTED_PAGE), include_comments=False,
                                        include_tables=False, with_metadata=False)
    expected = "\n\n".join(normalize_line(line) for line in whole.text.split("\n")
                             if normalize_line(line) and line.strip() != "Ferry fares frozen for the winter")
    assert article.text == expected
    assert "freight run" in article.text and "passenger numbers rose" in article.text
    for absent in ("tracking copy", "Subscribe today", "Share on social media", "loadAd"):
        assert absent not in article.text
    assert article.published_at == datetime(2024, 11, 2, 8, 15, tzinfo=UTC)
    assert article.author == "Ines Marlow" and article.site_name == "Harbour Post"


@pytest.mark.unit
def test_index_page_is_rejected_with_a_useful_message() -> None:
    item = make_item(FIXTURES / "index_page.html", fmt="html")
    articles, rejects = clean_items([item], CleanConfig())
    assert articles == []
    (reject,) = rejects
    assert reject.stage == "clean" and reject.input == item.uri
    assert reject.error.startswith(f"{item.uri}: no article text after cleaning (")
    assert "index page" in reject.error


@pytest.mark.unit
def test_malformed_and_unreadable_items_do_not_stop_the_batch() -> None:
    malformed = make_item(FIXTURES / "malformed.html", fmt="html")
    unknown_format = text_item("Some text", uri="mem://weird.pdf")
    unknown_format.format = "pdf"  # type: ignore[assignment]  # what a buggy fetcher might hand over
    good = make_item(FIXTURES / "harbour_ferry.txt")

    articles, rejects = clean_items([malformed, unknown_format, good], CleanConfig())

    assert [a.doc_id for a in articles] == ["harbour_ferry"]
    by_input = {r.input: r for r in rejects}
    assert set(by_input) == {malformed.uri, "mem://weird.pdf"}
    assert by_input["mem://weird.pdf"].error.startswith("mem://weird.pdf: cannot clean pdf item (ValueError")
    assert all(r.stage == "clean" for r in rejects)


# ------------------------------------------------------------------ text, hashing, language


@pytest.mark.unit
def test_copy_with_other_quotes_whitespace_and_boilerplate_has_the_same_hash() -> None:
    original = make_item(DEDUP_FIXTURES / "rail_strike_original.txt", source="northwire")
    copy = make_item(
        DEDUP_FIXTURES / "rail_strike_copy.txt",
        source="valley-post",
        title="Manchester rail strike: drivers to walk out next week",
    )
    first, second = clean_items([original, copy], CleanConfig())[0]
    assert first.content_hash == second.content_hash
    assert first.article_id != second.article_id  # different inputs, so different rows
    assert second.title == "Manchester rail strike: drivers to walk out next week"
    assert "drivers to walk out next week\n" not in second.text  # the title is not repeated
    # The copy's curly quotes are stored as published; only the hash form folds them.
    assert "\u2019" in second.text and "\u2019" not in first.text
    assert second.dateline == first.dateline == "MANCHESTER"


@pytest.mark.unit
def test_fingerprint_ignores_case_quotes_dashes_and_layout_but_not_words() -> None:
    a = "\u201cWe\u2019re ready,\u201d she said \u2013 2019\u20132020.\n\nNext  paragraph\u2026"
    b = '"we\'re READY," she said - 2019-2020. Next paragraph...'
    assert fingerprint_text(a) == fingerprint_text(b)
    assert fingerprint_text(a) != fingerprint_text(b.replace("READY", "steady"))


@pytest.mark.unit
def test_text_is_nfc_and_paragraphs_are_blank_line_separated() -> None:
    decomposed = "Cafe\u0301 owners in Zu\u0308rich said trade was slow.   Prices\tstayed\u00a0high."
    content = "\n".join([decomposed, "second line of the same paragraph,", "", "", "New paragraph " * 6])
    article = clean_one(text_item(content), CleanConfig(min_words=5))
    first, second = article.text.split("\n\n")
    assert first.startswith("Caf\u00e9 owners in Z\u00fcrich")
    assert "Prices stayed high. second line" in first
    assert second == ("New paragraph " * 6).strip()
    assert article.word_count == len(article.text.split())


@pytest.mark.unit
def test_too_few_words_is_rejected() -> None:
    item = text_item("Ferry cancelled today. More later.", uri="mem://short")
    articles, rejects = clean_items([item], CleanConfig(min_words=20))
    assert articles == []
    assert rejects[0].error == (
        "mem://short: no article text after cleaning (5 words, need 20); is this an index page?"
    )


@pytest.mark.unit
def test_language_english_french_and_too_short() -> None:
    english = clean_one(make_item(FIXTURES / "harbour_ferry.txt"))
    french = clean_one(make_item(FIXTURES / "fr_marche.txt"))
    assert english.language == "en"
    assert french.language == "fr"
    assert french.dateline == "LYON"
    assert detect_language("Oui") is None


@pytest.mark.unit
def test_text_item_without_url_is_keyed_by_its_uri() -> None:
    article = clean_one(make_item(FIXTURES / "harbour_ferry.txt"))
    assert article.canonical_url is None
    assert article.article_id == content_key(str(FIXTURES / "harbour_ferry.txt"), article.content_hash)
    assert article.author == "Marta Kowalczyk"  # from the byline line, which is dropped
    assert not article.text.startswith("By ")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.Example.com/news/a?utm_source=x&id=3#top", "https://www.example.com/news/a?id=3"),
        ("HTTP://example.com:80/b/", "http://example.com/b/"),
        ("file:///data/a.txt", None),
        ("/relative/path", None),
        (None, None),
    ],
)
def test_canonical_url(url: str | None, expected: str | None) -> None:
    assert canonical_url(url) == expected


@pytest.mark.unit
def test_naive_and_date_only_times_become_utc() -> None:
    article = clean_one(
        make_item(FIXTURES / "harbour_ferry.txt", published_at=datetime(2024, 3, 2, 9, 15))
    )
    assert article.published_at == datetime(2024, 3, 2, 9, 15, tzinfo=UTC)
    assert article.fetched_at.tzinfo is not None


@pytest.mark.unit
def test_importing_the_stage_loads_no_models() -> None:
    code = (
        "import sys, flows.stages.clean, flows.stages.dedup; "
        "print(sorted(m for m in ('py3langid.langid', 'trafilatura', 'courlan') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed snippet
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ corpus


@pytest.mark.quality
@pytest.mark.slow
def test_bbc_corpus_cleans_without_rejects() -> None:
    corpus = SHARED / "corpora" / "bbc-news" / "bbc-news.jsonl.gz"
    if not corpus.exists():
        pytest.skip(f"{corpus} not found; the quality tests need the shared corpora beside the repo")
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    items = [
        Item(doc_id=r["id"], source="bbc", uri=f"bbc/{r['id']}", format="text", content=r["text"],
             fetched_at=FETCHED_AT, title=r["title"])
        for r in rows
    ]
    articles, rejects = clean_items(items, CleanConfig())
    assert rejects == []
    assert len(articles) == len(rows)
    assert sum(a.language == "en" for a in articles) == len(articles)
    # The corpus has no boilerplate: cleaning must not eat article text.
    raw_words = sum(len(r["text"].split()) for r in rows)
    assert sum(a.word_count for a in articles) >= 0.995 * raw_words


@pytest.mark.unit
def test_signup_box_blurb_tag_rows_and_fragments_are_removed():
    body = (
        "Harbour officials approved a new ferry timetable on Thursday after months of complaints "
        "from island residents about cancelled sailings.\n\n"
        "Transport | Islands | Ferries\n\n"
        "harbour politics\n\n"
        "Morning Newsletterz\n\n"
        "The stories shaping the islands, in your inbox before breakfast.\n\n"
        "Get the newsletter\n\n"
        "The timetable adds two sailings a day in summer and keeps the late boat on Fridays, "
        "which residents said they needed to reach evening shifts on the mainland.\n\n"
        "Enjoying this story? Click here to unlock every report for a small monthly fee.\n\n"
        "The council's newsletter to residents will carry the new times next week, officials said."
    )
    article = clean_one(text_item(body))
    text = article.text
    for gone in ("Transport | Islands", "harbour politics", "Morning Newsletter", "in your inbox before breakfast",
                 "Get the newsletter", "Enjoying this story"):
        assert gone not in text, gone
    # Real paragraphs, including one that mentions a newsletter mid-sentence, stay.
    assert text.startswith("Harbour officials approved")
    assert "keeps the late boat on Fridays" in text
    assert "The council's newsletter to residents" in text
