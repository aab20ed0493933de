"""What a news page says about itself: title, author, publication date, site, language, URL.

`read_page_metadata(tree)` reads a parsed page (an lxml HTML tree) and never raises on odd
markup. It looks in the places publishers fill in for search engines and social cards,
in this order for each field, and stops at the first usable value:

- title: `og:title`, `twitter:title`, JSON-LD `headline`, the `<title>` element, the
  page's only `<h1>` (as found: the clean stage cuts the site's name off);
- author: JSON-LD `author` (a name, an object with a name, or a list of either),
  `meta name=author`, `article:author` (unless it is a profile URL), `itemprop=author`,
  `rel=author` links, then a byline: a short element whose class or id says "byline"
  or "author" and whose text reads as one to four names (form fields and comment
  threads are not bylines). A JSON-LD author typed as an Organization comes last: many
  sites put their own name there while the page's byline names the reporter. A name
  equal to the site name is not taken as the author;
- published: `article:published_time`, JSON-LD `datePublished`, `itemprop=datePublished`,
  a `<time datetime>` inside the article, a date in the URL path (/2024/02/21/), then
  htmldate's quick `find_date`, asked only when nothing else names a date;
- site name: `og:site_name`, `application-name`, JSON-LD `publisher.name`;
- language: `<html lang>`, then `og:locale`;
- URL: `link rel=canonical`, then `og:url`.

Why our own reader and not trafilatura's metadata step: the clean stage needs these six
fields only, and trafilatura's step (which also finds categories, tags, licence and
more, and searches the whole body for authors) cost about a third of its extraction
time on the article-extraction benchmark. Reading these few places costs a small
fraction of that. Values are returned as found (whitespace collapsed); dates as ISO 8601
strings, which the caller turns into UTC datetimes.

Cost: every search over a whole tree costs 0.1-0.5 ms on a large news page, about as much
as the rest of the reading, so the head-like tags are gathered in one pass, and the
attribute searches of the body (microdata, `rel=author`, byline classes) run only on
pages whose structured data left the author or date unsaid.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from lxml import etree

from flows.stages.cleaning.authors import split_authors

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from lxml.html import HtmlElement

# A value longer than this is page text that leaked into a field, not a name or title.
MAX_AUTHOR_CHARS = 120
MAX_TITLE_CHARS = 300
# A byline names one to a few people: more words than this is a sentence or a bio.
MAX_BYLINE_WORDS = 8
# Byline candidates looked at; a page has a handful, the rest are author boxes and links.
MAX_BYLINE_CANDIDATES = 12
# Dates outside these years are template defaults or typos, not publication dates.
EARLIEST_YEAR = 1990

_SPACE = re.compile(r"\s+")
# "By Jane Roe", "Written by Jane Roe", "Posted by: Jane Roe", "Von Jana Ruh".
_BY_PREFIX = re.compile(r"^(?:(?:written|posted|reported|words|story)\s+)?(?:by|von|par|por|door)\s*:?\s+",
                        re.IGNORECASE)
# A name has no digits, no @, slashes, brackets or sentence punctuation, and is not a
# host or file name ("example.com", "humans.txt"); initials ("J.R. Roe") are fine.
_NOT_A_NAME = re.compile(r"[\d@/\\?!:;«»<>{}()\[\]*=_#|]|https?|www\.|\.[a-z]{2,4}\b")
# Words that show a byline element holds a label or a date, not a name.
_BYLINE_NOISE = re.compile(r"\b(?:updated|published|posted on|min read|comments?|share|follow|email)\b",
                           re.IGNORECASE)
_ISO_DATE_START = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# The tags read in the one pass over the tree.
_TAGS = ("meta", "link", "script", "title", "h1", "time")
# The searches below select attributes and then take their elements: libxml2 runs an
# attribute-axis path about twice as fast as the same test on every element.
# Microdata and link relations that name the author or the publication date.
_MARKED = etree.XPath("//@itemprop[.='author' or .='datePublished'] | //@rel[.='author']")
# Class or id words that mark a byline ("byline", "Byline", "author", "post-author", ...).
_BYLINE_CANDIDATES = etree.XPath(
    "//@class[contains(.,'yline') or contains(.,'uthor')] | //@id[contains(.,'yline') or contains(.,'uthor')]"
)
# A date in the URL path: /2024/02/21/ or /2024-02-21-.
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](\d{1,2})[/-](\d{1,2})(?:/|-|_|\.|$)")
_NOT_BYLINE_TAGS = frozenset({"script", "style", "img", "input", "label", "textarea", "button", "svg"})
_ARTICLE_TYPES = ("Article", "Posting", "Report", "Blog")
_AUTHOR_META = ("byl", "dc.creator", "dcterms.creator", "parsely-author", "sailthru.author",
                "article:author_name", "citation_author", "cxenseparse:author")


@dataclass(frozen=True, slots=True)
class PageMetadata:
    """The page's own metadata; None where the page does not say."""

    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601, a date or a date and time
    site_name: str | None = None
    language: str | None = None
    url: str | None = None
    title_source: str | None = None  # meta | json-ld | title | h1
    # The page's other headlines (twitter:title, JSON-LD headline, a lone <h1>): a site
    # suffix on og:title that these leave off is decoration.
    other_titles: tuple[str, ...] = ()


def read_page_metadata(tree: HtmlElement, url: str | None = None, *, author: bool = True,
                       published: bool = True) -> PageMetadata:
    """The metadata of a parsed page fetched from `url`; `author`/`published` False skip
    those searches.

    The caller passes False when a feed already gave the value: the byline search and
    the date fallback are the dearest part of the reading. The tree is not changed.
    """
    page = _Page(tree)
    site_name = (_first(page.meta, "og:site_name", "application-name")
                 or _clean(_name_of(_ld_value(page.json_ld, "publisher")), MAX_AUTHOR_CHARS))
    title, title_source = _title(page)
    return PageMetadata(
        title=title,
        title_source=title_source,
        other_titles=tuple(t for t in (_first(page.meta, "twitter:title"),
                                       _clean(_ld_value(page.json_ld, "headline"), MAX_TITLE_CHARS),
                                       *([_clean(page.headings[0].text_content(), MAX_TITLE_CHARS)]
                                         if len(page.headings) == 1 else []))
                           if t and t != title),
        author=_author(page, site_name) if author else None,
        published=_published(page, url) if published else None,
        site_name=site_name,
        language=_clean(tree.get("lang"), 20) or _first(page.meta, "og:locale"),
        url=page.canonical or _first(page.meta, "og:url"),
    )


class _Page:
    """What one pass over the tree gathers, and the body searches, run on first use."""

    def __init__(self, tree: HtmlElement) -> None:
        self.tree = tree
        # The first non-empty `content` of each `<meta>`, keyed by its lower-cased
        # property, name or itemprop (sites use any of the three for the same key).
        self.meta: dict[str, str] = {}
        self.canonical: str | None = None
        self.title: str | None = None
        self.headings: list[HtmlElement] = []
        self.times: list[HtmlElement] = []
        scripts: list[str] = []
        for element in tree.iter(*_TAGS):
            tag = element.tag
            if tag == "meta":
                content = element.get("content")
                if content and not content.isspace():
                    for attribute in ("property", "name", "itemprop"):
                        key = element.get(attribute)
                        if key:
                            self.meta.setdefault(key.strip().lower(), content)
            elif tag == "script":
                if element.text and element.get("type", "").strip().lower() == "application/ld+json":
                    scripts.append(element.text)
            elif tag == "link":
                if self.canonical is None and element.get("rel", "").strip().lower() == "canonical":
                    href = _clean(element.get("href"), 2000)
                    if href and href.startswith(("http://", "https://")):
                        self.canonical = href
            elif tag == "title":
                if self.title is None:
                    self.title = _clean(element.text_content(), MAX_TITLE_CHARS)
            elif tag == "h1":
                self.headings.append(element)
            elif element.get("datetime"):
                self.times.append(element)
        self.json_ld = list(_json_ld_objects(scripts))
        self._marked: list[HtmlElement] | None = None

    def marked(self, attribute: str, value: str) -> list[HtmlElement]:
        """Body elements whose `attribute` (itemprop or rel) is `value`."""
        if self._marked is None:
            self._marked = _elements_of(_MARKED(self.tree))
        return [element for element in self._marked if element.get(attribute) == value]


# ------------------------------------------------------------------ meta tags


def _first(meta: dict[str, str], *keys: str, limit: int = MAX_TITLE_CHARS) -> str | None:
    for key in keys:
        value = _clean(meta.get(key), limit)
        if value:
            return value
    return None


def _clean(value: Any, limit: int) -> str | None:
    """Whitespace collapsed; None for non-strings, empty values and values over `limit`."""
    if not isinstance(value, str):
        return None
    value = _SPACE.sub(" ", value).strip()
    return value if value and len(value) <= limit else None


# ------------------------------------------------------------------ JSON-LD


def _json_ld_objects(scripts: list[str]) -> Iterator[dict[str, Any]]:
    """Every JSON object in the page's JSON-LD blocks, article-like ones first.

    A block that is not valid JSON is skipped: pages often carry broken or templated ones.
    """
    articles: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for script in scripts:
        try:
            data = json.loads(script, strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(reversed(node))
            elif isinstance(node, dict):
                if "@graph" in node:
                    stack.append(node["@graph"])
                kind = node.get("@type")
                kinds = kind if isinstance(kind, list) else [kind]
                is_article = any(isinstance(k, str) and k.endswith(_ARTICLE_TYPES) for k in kinds)
                (articles if is_article else others).append(node)
    yield from articles
    yield from others


def _ld_value(objects: list[dict[str, Any]], key: str) -> Any:
    for node in objects:
        value = node.get(key)
        if value:
            return value
    return None


def _name_of(value: Any) -> str | None:
    """The name in a JSON-LD person, organisation or plain string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, list):  # some sites give the name as a one-item list
            name = next((n for n in name if isinstance(n, str)), None)
        return name if isinstance(name, str) else None
    return None


# ------------------------------------------------------------------ fields


def _title(page: _Page) -> tuple[str | None, str | None]:
    """(title, where it came from): the social-card and structured-data headlines first,
    as sites write them for sharing; then the `<title>` element; then a lone `<h1>`.
    The site's name is left on: the clean stage cuts it (cleaning/titles.py)."""
    title = _first(page.meta, "og:title", "twitter:title")
    if title:
        return title, "meta"
    headline = _clean(_ld_value(page.json_ld, "headline"), MAX_TITLE_CHARS)
    # Some sites put a description in `headline` ("Wikimedia list article"): it is taken
    # only when the `<title>` element says it too, or says nothing.
    if headline and (not page.title or _letters(headline) in _letters(page.title)):
        return headline, "json-ld"
    if page.title:
        return page.title, "title"
    if len(page.headings) == 1:
        return _clean(page.headings[0].text_content(), MAX_TITLE_CHARS), "h1"
    return None, None


def _author(page: _Page, site_name: str | None) -> str | None:
    """The first source's names, less the site's own name: "BBC News" by BBC News says
    nothing about who wrote the piece."""
    site = _letters(site_name)
    candidates: tuple[Callable[[], list[str]], ...] = (
        lambda: _ld_authors(page.json_ld, organizations=False),
        lambda: _names(page.meta.get("author")),
        # Other author tags publishers fill in (NYT's "byl", Dublin Core, Parse.ly, Sailthru).
        lambda: next((names for key in _AUTHOR_META if (names := _names(page.meta.get(key)))), []),
        lambda: _names(page.meta.get("article:author")),
        lambda: _element_names(page.marked("itemprop", "author")),
        lambda: _element_names(page.marked("rel", "author")),
        lambda: _byline_names(page.tree),
        lambda: _ld_authors(page.json_ld, organizations=True),
    )
    for candidate in candidates:
        names = [name for name in candidate() if _letters(name) != site]
        if names:
            return "; ".join(dict.fromkeys(names))
    return None


def _letters(text: str | None) -> str:
    return "".join(c for c in (text or "").casefold() if c.isalnum())


def _ld_authors(json_ld: list[dict[str, Any]], *, organizations: bool) -> list[str]:
    """The first JSON-LD author list with a usable name: people's names, or with
    `organizations` the names of authors typed Organization."""
    for node in json_ld:
        value = node.get("author") or node.get("creator")
        if not value:
            continue
        values = value if isinstance(value, list) else [value]
        names = [name for v in values if _is_organization(v) == organizations for name in _names(_name_of(v))]
        if names:
            return names
    return []


def _is_organization(value: Any) -> bool:
    kind = value.get("@type") if isinstance(value, dict) else None
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.endswith(("Organization", "NewsMediaOrganization")) for k in kinds)


def _names(value: str | None) -> list[str]:
    """A byline or author field as a list of names; [] when it does not read as names."""
    text = _clean(value, MAX_AUTHOR_CHARS)
    if not text:
        return []
    text = _BY_PREFIX.sub("", text).strip(" ,;|-\u2013\u2014")
    if not text or _NOT_A_NAME.search(text) or len(text.split()) > MAX_BYLINE_WORDS:
        return []
    return [text]


def _element_names(elements: list[HtmlElement]) -> list[str]:
    names: list[str] = []
    for element in elements:
        # Microdata may put the name in a `content` attribute or a nested itemprop=name.
        named = element.find(".//*[@itemprop='name']")
        source = element.get("content") or (named if named is not None else element)
        text = source if isinstance(source, str) else source.text_content()
        names.extend(_names(text))
    return names


def _byline_names(tree: HtmlElement) -> list[str]:
    """Names in the first short element whose class or id marks it as a byline.

    Only the element's own short text is read: an "author" box holding a biography, a
    date or a share button is passed over rather than trimmed, because trimming guesses
    wrong more often than it helps.
    """
    for index, element in enumerate(_elements_of(_BYLINE_CANDIDATES(tree))):
        if index >= MAX_BYLINE_CANDIDATES:
            break
        marks = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if ("byline" not in marks and "author" not in marks) or "comment" in marks \
                or element.tag in _NOT_BYLINE_TAGS or _in_form(element):
            continue  # a comment's author, a form's "Name" field, an avatar
        text = _clean(element.text_content(), MAX_AUTHOR_CHARS)
        if not text or _BYLINE_NOISE.search(text):
            continue
        # Roles, agencies and dates beside the names go ("Par JANE ROE et Jo Doe, correspondant").
        names = split_authors(text)
        if names and all(_looks_like_name(name) for name in names):
            return names
    return []


def _elements_of(attributes: list[Any]) -> list[HtmlElement]:
    """The elements holding the attributes an XPath selected, in document order, once each."""
    elements: dict[HtmlElement, None] = {}
    for attribute in attributes:
        elements.setdefault(attribute.getparent(), None)
    return list(elements)


def _in_form(element: HtmlElement) -> bool:
    return any(ancestor.tag == "form" for ancestor in element.iterancestors())


def _looks_like_name(text: str) -> bool:
    words = text.split()
    return (1 <= len(words) <= 4 and not _NOT_A_NAME.search(text)
            and all(word[0].isupper() for word in words if word[0].isalpha()))


def _published(page: _Page, url: str | None) -> str | None:
    found = (
        _iso_date(page.meta.get("article:published_time"))
        or _iso_date(_ld_value(page.json_ld, "datePublished"))
        or _iso_date(page.meta.get("datepublished"))
        or _element_date(page.marked("itemprop", "datePublished"))
        or _element_date([time for time in page.times if _in_article(time)])
    )
    return found or _url_date(page.canonical or url) or _htmldate(page.tree, url)


def _element_date(elements: list[HtmlElement]) -> str | None:
    for element in elements:
        value = _iso_date(element.get("datetime") or element.get("content") or element.text_content())
        if value:
            return value
    return None


def _in_article(element: HtmlElement) -> bool:
    """Inside `<article>` or `<main>`: a `<time>` elsewhere dates a teaser or a comment."""
    return any(ancestor.tag in ("article", "main") for ancestor in element.iterancestors())


def _iso_date(value: Any) -> str | None:
    """An ISO 8601 date or date-time string, if `value` starts with a plausible one."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    match = _ISO_DATE_START.match(value)
    if not match or not _plausible_year(int(match.group(1))):
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        # "2024-02-21 at 10am", "2024-02-21T10:00:00.000+0100x": keep the day, which is sure.
        try:
            return date.fromisoformat(match.group(0)).isoformat()
        except ValueError:
            return None
    return value


def _url_date(url: str | None) -> str | None:
    """The day a URL path names, as news sites often put it there: /2024/02/21/slug."""
    match = _URL_DATE.search(url or "")
    if not match:
        return None
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    return day.isoformat() if _plausible_year(day.year) else None


def _plausible_year(year: int) -> bool:
    return EARLIEST_YEAR <= year <= datetime.now(UTC).year + 1


def _htmldate(tree: HtmlElement, url: str | None) -> str | None:
    """htmldate's quick search (markup and URL patterns, no full-text scan), original date."""
    from htmldate import find_date

    try:
        found = find_date(tree, extensive_search=False, original_date=True, url=url)
    except (ValueError, TypeError):  # htmldate gives up on some unparseable pages
        return None
    return _iso_date(found)
