"""Tests of the page-metadata reader (flows/stages/cleaning/page_metadata.py).

Every page here is written for these tests: small, made-up outlets and people.
"""

from __future__ import annotations

import lxml.html
import pytest
from trafilatura import load_html

from flows.stages.cleaning.page_metadata import PageMetadata, read_page_metadata

pytestmark = pytest.mark.unit


def read(html: str, url: str | None = None, **options: bool) -> PageMetadata:
    tree = load_html(html)
    assert tree is not None
    return read_page_metadata(tree, url, **options)


JSON_LD_PAGE = """<!doctype html>
<html lang="en-GB"><head>
<title>Tidal barrage plan shelved | The Estuary Post</title>
<meta property="og:title" content="Tidal barrage plan shelved after cost review">
<link rel="canonical" href="https://estuary.example/news/tidal-barrage-shelved">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "The Estuary Post"},
  {"@type": "NewsArticle", "headline": "Tidal barrage plan shelved",
   "datePublished": "2024-05-14T06:30:00+01:00",
   "author": [{"@type": "Person", "name": "Orla Fenwick"}, {"@type": "Person", "name": "Dev Amin"}],
   "publisher": {"@type": "Organization", "name": "The Estuary Post"}}
]}
</script>
</head><body><article><h1>Tidal barrage plan shelved</h1>
<p>The county dropped the scheme after engineers doubled the estimate.</p></article></body></html>
"""


def test_json_ld_author_list_date_and_publisher() -> None:
    page = read(JSON_LD_PAGE)
    assert page.author == "Orla Fenwick; Dev Amin"
    assert page.published == "2024-05-14T06:30:00+01:00"
    assert page.site_name == "The Estuary Post"
    assert page.title == "Tidal barrage plan shelved after cost review"  # og:title before <title>
    assert page.language == "en-GB"
    assert page.url == "https://estuary.example/news/tidal-barrage-shelved"


def test_json_ld_author_object_and_plain_string() -> None:
    as_object = """<html><head><script type="application/ld+json">
    {"@type": "ReportageNewsArticle", "author": {"@type": "Person", "name": "  Ines   Okafor "}}
    </script></head><body><p>Text.</p></body></html>"""
    as_string = """<html><head><script type="application/ld+json">
    [{"@type": "BlogPosting", "author": "Hal Brennan", "datePublished": "2023-11-02"}]
    </script></head><body><p>Text.</p></body></html>"""
    assert read(as_object).author == "Ines Okafor"  # whitespace collapsed
    page = read(as_string)
    assert page.author == "Hal Brennan"
    assert page.published == "2023-11-02"


def test_meta_tags() -> None:
    page = read("""<html lang="fr"><head>
    <meta name="author" content="Claire Dumont">
    <meta property="article:published_time" content="2022-09-30T17:05:00Z">
    <meta property="og:site_name" content="Le Petit Quai">
    <meta property="og:url" content="https://quai.example/article/42">
    <meta name="twitter:title" content="Les ferries reprennent">
    </head><body><p>Texte.</p></body></html>""")
    assert page == PageMetadata(
        title="Les ferries reprennent",
        author="Claire Dumont",
        published="2022-09-30T17:05:00Z",
        site_name="Le Petit Quai",
        language="fr",
        url="https://quai.example/article/42",
        title_source="meta",
    )


def test_organisation_and_site_name_are_not_taken_for_the_reporter() -> None:
    page = read("""<html><head>
    <meta property="og:site_name" content="Harbour Wire">
    <meta name="author" content="Harbour Wire">
    <script type="application/ld+json">
    {"@type": "NewsArticle", "author": {"@type": "Organization", "name": "Harbour Wire Group"}}
    </script></head><body>
    <div class="article-byline">By Mateo Ruiz</div><p>Text.</p></body></html>""")
    assert page.author == "Mateo Ruiz"
    only_organisation = read("""<html><head><script type="application/ld+json">
    {"@type": "NewsArticle", "author": {"@type": "Organization", "name": "Harbour Wire Group"}}
    </script></head><body><p>Text.</p></body></html>""")
    assert only_organisation.author == "Harbour Wire Group"  # better than nothing


def test_byline_heuristic_and_date_only_in_time_element() -> None:
    page = read("""<html><head><title>Bridge reopens</title></head><body>
    <nav><time datetime="2020-01-01">An old teaser</time></nav>
    <article>
      <h1>Bridge reopens</h1>
      <div class="story-meta">
        <span class="story-byline">By Ana Lindqvist and Tomas Berg</span>
        <time datetime="2024-03-08T09:00:00+01:00">8 March</time>
      </div>
      <p>The bridge carried its first cars for a year on Friday morning.</p>
    </article></body></html>""")
    assert page.author == "Ana Lindqvist; Tomas Berg"
    assert page.published == "2024-03-08T09:00:00+01:00"  # the article's time, not the teaser's
    assert page.title == "Bridge reopens"


@pytest.mark.parametrize("byline", [
    '<p class="author-bio">Ana Lindqvist has covered transport for the paper since the floods.</p>',
    '<div class="byline">Updated 3 hours ago</div>',
    '<img class="author-photo" src="a.jpg" alt="">',
])
def test_bios_labels_and_images_are_not_bylines(byline: str) -> None:
    assert read(f"<html><body>{byline}<p>Text.</p></body></html>").author is None


def test_comment_form_and_file_links_are_not_authors() -> None:
    page = read("""<html><head><link rel="author" href="/humans.txt"></head><body>
    <p>Text.</p><a rel="author" href="/humans.txt">humans.txt</a>
    <form><label class="author-field">Your Name</label><input class="author" name="author"></form>
    <div class="comment-author">Wandering Gull</div>
    </body></html>""")
    assert page.author is None


def test_microdata_and_rel_author() -> None:
    microdata = read("""<html><body><article>
    <span itemprop="author" itemscope><span itemprop="name">Yusuf Demir</span> (Istanbul)</span>
    <span itemprop="datePublished">2021-07-19</span><p>Text.</p></article></body></html>""")
    assert microdata.author == "Yusuf Demir"
    assert microdata.published == "2021-07-19"
    rel = read('<html><body><p>By <a rel="author" href="/staff/kim">Kim Sorensen</a></p></body></html>')
    assert rel.author == "Kim Sorensen"


def test_page_with_nothing() -> None:
    page = read("<html><body><p>Just a sentence, no headline and no date.</p></body></html>")
    assert page == PageMetadata()


def test_malformed_json_ld_does_not_raise_and_other_sources_still_count() -> None:
    page = read("""<html><head>
    <script type="application/ld+json">{"@type": "NewsArticle", "author": {"name": "Half</script>
    <script type="application/ld+json">   </script>
    <script type="application/ld+json">{"@type": "NewsArticle", "author": 42, "datePublished": ["x"]}</script>
    <meta name="author" content="Rosa Quint">
    </head><body><p>Text.</p></body></html>""")
    assert page.author == "Rosa Quint"
    assert page.published is None


def test_implausible_dates_are_skipped_and_the_url_date_is_used() -> None:
    page = read("""<html><head><script type="application/ld+json">
    {"@type": "NewsArticle", "datePublished": "0001-01-01T00:00:00Z"}
    </script></head><body><p>Text.</p></body></html>""",
                url="https://daily.example/news/2019/11/19/rail-fares-rise/")
    assert page.published == "2019-11-19"


def test_title_element_is_read_as_written_and_its_source_named() -> None:
    # The site name is cut by the clean stage (tests/test_titles_authors.py), not here.
    page = read("""<html><head><title>Sheep return to the high fells | Moor Gazette</title>
    <meta property="og:site_name" content="Moor Gazette"></head><body><p>x</p></body></html>""")
    assert (page.title, page.title_source) == ("Sheep return to the high fells | Moor Gazette", "title")


def test_json_ld_headline_is_taken_only_when_the_title_element_agrees() -> None:
    def page(headline: str) -> PageMetadata:
        return read(f"""<html><head><title>Harbour wall repaired - Moor Gazette</title>
        <script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{headline}"}}</script>
        </head><body><p>x</p></body></html>""")

    assert (page("Harbour wall repaired").title, page("Harbour wall repaired").title_source) == (
        "Harbour wall repaired", "json-ld")
    # A description in `headline` (some sites put one there) loses to the title element.
    assert page("Local news article").title == "Harbour wall repaired - Moor Gazette"


def test_searches_can_be_skipped_and_the_tree_is_left_as_it_was() -> None:
    tree = load_html(JSON_LD_PAGE)
    before = lxml.html.tostring(tree)
    page = read_page_metadata(tree, author=False, published=False)
    assert page.author is None and page.published is None
    assert page.title == "Tidal barrage plan shelved after cost review"
    read_page_metadata(tree, "https://estuary.example/2024/05/14/x")
    assert lxml.html.tostring(tree) == before


def test_other_author_meta_tags_are_read() -> None:
    # NYT-style "byl" and Dublin Core, when `author` itself is absent.
    assert read("""<html><head><meta name="byl" content="By Corin Vale"></head><body><p>x</p></body></html>"""
                ).author == "Corin Vale"
    assert read("""<html><head><meta name="DC.creator" content="Ana Roe"></head><body><p>x</p></body></html>"""
                ).author == "Ana Roe"
