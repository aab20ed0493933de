"""Clean stage: items (HTML or text) in, articles out.

`clean_items(items, cfg)` runs in two passes over the batch:

1. per item: extract the main text (trafilatura for HTML; `cleaning/paragraphs.py` for
   plain text), normalise whitespace only (the text is kept as published, see
   `cleaning/normalize.py`), pick the title less the site's name (`cleaning/titles.py`),
   drop a leading byline and a repeated title, drop lines matching the reviewed
   boilerplate patterns;
2. per source: find the short lines the source repeats across its articles
   (`cleaning/boilerplate.py`) and the title affixes its pages share, and drop them; then
   per item: join lines into paragraphs, drop repeated paragraphs, split off the
   dateline, split the byline into persons (`cleaning/authors.py`), detect the language,
   hash (the fingerprint form), key and count.

One item that fails never stops the batch: it becomes a `Reject` naming its input.
Nothing is loaded at import time; the language model loads on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from flows.config import CleanConfig
from flows.records import Article, Item, Reject, StageCount, content_key, sha256_hex
from flows.stages.cleaning.authors import split_authors
from flows.stages.cleaning.boilerplate import is_boilerplate_line, recurring_keys
from flows.stages.cleaning.dateline import split_dateline
from flows.stages.cleaning.normalize import (
    count_words,
    fingerprint_text,
    normalize_line,
    normalize_whitespace,
)
from flows.stages.cleaning.paragraphs import drop_repeated_paragraphs, text_paragraphs
from flows.stages.cleaning.titles import host_keys, letters, recurring_affixes, site_keys, strip_site_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from py3langid.langid import LanguageIdentifier

# Language is not guessed for texts shorter than this: a handful of words is noise.
MIN_WORDS_FOR_LANGUAGE = 5
# Characters read by the language identifier (~100 words): its cost grows with length
# and the lead of a news text already decides the language.
LANGUAGE_SAMPLE_CHARS = 600
# Below this normalised probability the guess is dropped rather than stored wrong.
MIN_LANGUAGE_PROBABILITY = 0.5
# A byline is looked for among the first few lines only.
BYLINE_SEARCH_LINES = 3

_NAME_WORD = r"[A-Z][\w.'-]*"
_BYLINE = re.compile(
    rf"By\s+(?P<name>{_NAME_WORD}(?:\s+(?:{_NAME_WORD}|and|&|de|van|von|der|al|bin)){{0,5}})"
    # An optional role or outlet in title case: "By Jane Roe, Health Correspondent".
    rf"(?:\s*[,|\u2013\u2014-]\s*{_NAME_WORD}(?:\s+(?:{_NAME_WORD}|and|&|of|for|in|at|the)){{0,6}})?"
)
# "By Monday, ..." and "By March the ..." open sentences, not bylines.
_NOT_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december the this that then now midday midnight noon "
    "dawn dusk late early".split()
)


@dataclass(slots=True)
class _Draft:
    """An item between the two passes: its paragraphs (as lines) and metadata."""

    item: Item
    paragraphs: list[list[str]]
    title: str | None
    author: str | None
    published_at: datetime | None
    url: str | None
    site_name: str | None
    language_hint: str | None
    # The page's own headline when a feed hint replaced it: the text must not repeat either.
    page_title: str | None = None
    # Each distinct line's fingerprint, taken once: the recurring-line count, the recurring
    # filter and the repeated-paragraph check all compare lines by it.
    line_keys: dict[str, str] = field(default_factory=dict)


def clean_items(items: list[Item], cfg: CleanConfig) -> tuple[list[Article], list[Reject]]:
    """Clean a batch of items into articles; failures and empty pages become rejects."""
    drafts: list[_Draft] = []
    rejects: list[Reject] = []
    for item in items:
        try:
            drafts.append(_draft(item))
        except Exception as exc:  # noqa: BLE001 - any failure of one item must not stop the batch
            rejects.append(_failure(item, exc))

    keys_by_source: dict[str, list[Iterable[str]]] = {}
    for draft in drafts:
        keys_by_source.setdefault(draft.item.source, []).append(draft.line_keys.values())
    recurring_by_source = {source: recurring_keys(keys, cfg) for source, keys in keys_by_source.items()}
    titles_by_source: dict[str, list[str | None]] = {}
    for draft in drafts:
        titles_by_source.setdefault(draft.item.source, []).append(draft.title)
    # A title part several of a source's pages share is the site's name (cleaning/titles.py).
    affixes_by_source = {source: recurring_affixes(titles) for source, titles in titles_by_source.items()}

    articles: list[Article] = []
    for draft in drafts:
        try:
            if draft.title and affixes_by_source[draft.item.source]:
                draft.title = strip_site_name(draft.title, set(), affixes=affixes_by_source[draft.item.source])
            outcome = _finish(draft, recurring_by_source[draft.item.source], cfg)
        except Exception as exc:  # noqa: BLE001 - as above
            outcome = _failure(draft.item, exc)
        (articles if isinstance(outcome, Article) else rejects).append(outcome)
    return articles, rejects


def canonical_url(url: str | None) -> str | None:
    """The URL normalised by courlan (host case, default port, tracking parameters, fragment).

    None for anything that is not an absolute http(s) URL.
    """
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    import courlan

    try:
        return courlan.normalize_url(url.strip(), strict=True)
    except ValueError:
        return None


def detect_language(text: str, word_count: int | None = None) -> str | None:
    """ISO 639-1 code of `text`, or None when it is too short or the guess is weak.

    `word_count` saves counting again when the caller already has it.
    """
    if (count_words(text) if word_count is None else word_count) < MIN_WORDS_FOR_LANGUAGE:
        return None
    language, probability = _language_identifier().classify(text[:LANGUAGE_SAMPLE_CHARS])
    return language if probability >= MIN_LANGUAGE_PROBABILITY else None


@cache
def _language_identifier() -> LanguageIdentifier:
    # Loaded on first use and kept: the model takes ~0.3 s to unpack.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _draft(item: Item) -> _Draft:
    if item.format == "html":
        draft = _draft_from_html(item)
    elif item.format == "text":
        draft = _Draft(
            item=item,
            paragraphs=text_paragraphs(item.content),
            title=_non_empty(_published_form(item.title)),
            author=_non_empty(_published_form(item.author)),
            published_at=_to_utc(item.published_at),
            url=_non_empty(item.url),
            site_name=None,
            language_hint=None,
        )
    else:
        raise ValueError(f"unknown item format {item.format!r}; expected 'html' or 'text'")
    _strip_byline(draft)
    _strip_title(draft)
    _strip_pattern_boilerplate(draft)
    keys = draft.line_keys
    for paragraph in draft.paragraphs:
        for line in paragraph:
            if line not in keys:
                keys[line] = fingerprint_text(line)
    return draft


def _not_text(tree) -> list:
    """Elements no text extractor reads: scripts (but JSON-LD), styles and inline SVG.

    trafilatura deletes them (keeping their tail text) before it looks for text, and its
    readability and jusText fallbacks skip scripts and styles, so dropping them first changes
    no output (same articles on the 181 benchmark pages). It makes the tree trafilatura copies
    for each of its passes smaller: on those pages script and style text and SVG paths were
    most of what the copies moved, and the stage is 2–4% faster. (One walk over the tree: the
    same elements as an XPath union of the three, which walks it three times, in 60% of its time.)
    """
    return [element for element in tree.iter("script", "style", "svg")
            if element.tag != "script" or element.get("type") != "application/ld+json"]


def _draft_from_html(item: Item) -> _Draft:
    import trafilatura

    from flows.stages.cleaning.page_metadata import PageMetadata, read_page_metadata

    # The page is parsed once and the tree serves both readers. trafilatura extracts the
    # text only: its own metadata step cost about a third of the extraction, and our
    # reader (cleaning/page_metadata.py) finds the few fields we keep for much less.
    tree = trafilatura.load_html(item.content)
    paragraphs: list[list[str]] = []
    page = PageMetadata()
    title = _non_empty(_published_form(item.title))
    if tree is not None:
        # What the feed already gave is not looked for: the byline search and the date
        # fallback are the dear part of the reading.
        page = read_page_metadata(tree, item.url, author=not _non_empty(_published_form(item.author)),
                                  published=_to_utc(item.published_at) is None)
        title = _page_title(tree, title, page, item.url)
        # Read first: the metadata reader uses the whole page, trafilatura never these elements.
        for element in _not_text(tree):
            element.drop_tree()
        document = trafilatura.bare_extraction(
            tree,
            url=item.url,
            include_comments=False,
            include_tables=True,
            with_metadata=False,
        )
        if document is not None:
            # trafilatura puts one block (paragraph, heading, list item) per line.
            text = normalize_whitespace(document.text or "")
            paragraphs = [[line] for raw in text.split("\n") if (line := normalize_line(raw))]
    return _Draft(
        item=item,
        paragraphs=paragraphs,
        # Hints from the feed or JSON record win over what the page says, unless empty.
        title=title,
        author=_non_empty(_published_form(item.author)) or _non_empty(_published_form(page.author)),
        published_at=_to_utc(item.published_at) or _to_utc(page.published),
        url=_non_empty(item.url) or _non_empty(page.url),
        site_name=_non_empty(_published_form(page.site_name)),
        language_hint=_non_empty(page.language),
        page_title=_non_empty(_published_form(page.title)),
    )


def _page_title(tree, hint: str | None, page, url: str | None) -> str | None:
    """The feed's title, else the page's, less the site's name (cleaning/titles.py);
    trafilatura's title logic when the page names no title in the places we read.

    `og:title` is the headline the site wrote for sharing and is kept as written, unless
    the page's other headlines (twitter:title, JSON-LD headline, a lone h1) give it without
    an affix: then that affix is decoration. A `<title>` element or a feed title loses a
    part naming the site (og:site_name, the host).
    """
    title = hint or _non_empty(_published_form(page.title))
    if not title:
        return _non_empty(_published_form(_trafilatura_title(tree)))
    if not hint and page.title_source == "meta":
        return next((other for other in map(_published_form, page.other_titles)
                     if other and strip_site_name(title, {letters(title.replace(other, "", 1))}) == other),
                    title)
    return strip_site_name(title, site_keys(page.site_name), host_keys(url) | host_keys(page.url))


def _trafilatura_title(tree) -> str | None:
    from trafilatura.metadata import extract_title

    try:
        return extract_title(tree)
    except Exception:  # noqa: BLE001 - a title fallback must never fail the item
        return None


def _strip_byline(draft: _Draft) -> None:
    """Drop a "By Jane Roe" line near the top; it names the author when nothing else did."""
    seen = 0
    for paragraph in draft.paragraphs:
        for index, line in enumerate(paragraph):
            if seen >= BYLINE_SEARCH_LINES:
                return
            seen += 1
            match = _BYLINE.fullmatch(line)
            if (
                match
                and count_words(line) <= 12
                and match.group("name").split()[0].casefold() not in _NOT_NAMES
            ):
                del paragraph[index]
                draft.author = draft.author or match.group("name")
                draft.paragraphs = [p for p in draft.paragraphs if p]
                return


def _strip_title(draft: _Draft) -> None:
    """The title is kept in `Article.title`, not repeated as the text's first line."""
    title_keys = {fingerprint_text(t) for t in (draft.title, draft.page_title) if t}
    if not title_keys or not draft.paragraphs:
        return
    first = draft.paragraphs[0]
    if fingerprint_text(first[0]) in title_keys:
        del first[0]
    elif fingerprint_text(" ".join(first)) in title_keys:
        first.clear()
    draft.paragraphs = [p for p in draft.paragraphs if p]


# A line between two boilerplate lines is the blurb of a sign-up box when it is this short.
_MAX_SANDWICHED_WORDS = 25
# A paragraph this short without closing punctuation is a tag, label or caption stub.
_MAX_FRAGMENT_WORDS = 3
_CLOSING = tuple(".!?\"')”’»:;\u2026\u3002\uff01\uff1f\u300d\u300f\uff09")


def _strip_pattern_boilerplate(draft: _Draft) -> None:
    lines = [(p, line) for p, paragraph in enumerate(draft.paragraphs) for line in paragraph]
    flagged = [is_boilerplate_line(line) for _, line in lines]
    for i in range(1, len(lines) - 1):
        # "Weekly Newsletter / <blurb> / Get the newsletter": the blurb goes with its box.
        if (not flagged[i] and flagged[i - 1] and flagged[i + 1]
                and len(lines[i][1].split()) <= _MAX_SANDWICHED_WORDS):
            flagged[i] = True
    kept_paragraphs: list[list[str]] = [[] for _ in draft.paragraphs]
    for (p, line), drop in zip(lines, flagged, strict=True):
        if not drop:
            kept_paragraphs[p].append(line)
    draft.paragraphs = [kept for index, kept in enumerate(kept_paragraphs)
                        if kept and not (index > 0 and _is_fragment(kept))]


def _is_fragment(paragraph: list[str]) -> bool:
    text = " ".join(paragraph).strip()
    return count_words(text) <= _MAX_FRAGMENT_WORDS and not text.endswith(_CLOSING)


def _finish(draft: _Draft, recurring: set[str], cfg: CleanConfig) -> Article | Reject:
    item = draft.item
    paragraphs: list[str] = []
    for lines in draft.paragraphs:
        if recurring:
            lines = [line for line in lines if draft.line_keys[line] not in recurring]
        if lines:
            paragraphs.append(" ".join(lines))
    # The second and later copies of a paragraph are layout, not content.
    paragraphs = drop_repeated_paragraphs(paragraphs, cfg.min_repeated_paragraph_chars, draft.line_keys)

    dateline = None
    if paragraphs:
        dateline, rest = split_dateline(paragraphs[0])
        if rest.strip():
            paragraphs[0] = rest.strip()
        else:
            paragraphs.pop(0)

    text = "\n\n".join(paragraphs)
    word_count = count_words(text)
    if word_count < cfg.min_words:
        return Reject(
            source=item.source,
            input=item.uri,
            stage="clean",
            error=(
                f"{item.uri}: no article text after cleaning ({word_count} words, "
                f"need {cfg.min_words}); is this an index page?"
            ),
        )

    content_hash = sha256_hex(fingerprint_text(text))
    authors = split_authors(draft.author)
    canonical = canonical_url(draft.url)
    language = detect_language(text, word_count) or _iso639_1(draft.language_hint)
    return Article(
        article_id=content_key(canonical or item.uri, content_hash),
        doc_id=item.doc_id,
        source=item.source,
        url=draft.url,
        title=draft.title,
        author="; ".join(authors) if authors else None,
        authors=authors,
        published_at=draft.published_at,
        language=language,
        dateline=dateline,
        text=text,
        word_count=word_count,
        content_hash=content_hash,
        fetched_at=_to_utc(item.fetched_at) or item.fetched_at,
        site_name=draft.site_name,
        canonical_url=canonical,
        item_uri=item.uri,
    )


def _failure(item: Item, exc: Exception) -> Reject:
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Reject(
        source=item.source,
        input=item.uri,
        stage="clean",
        error=(
            f"{item.uri}: cannot clean {item.format} item ({type(exc).__name__}: {detail}); "
            "check that the input is an article page or text file"
        ),
    )


def _to_utc(value: datetime | date | str | None) -> datetime | None:
    """Timezone-aware UTC; naive values are taken as UTC, a bare date as midnight UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _published_form(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return normalize_line(normalize_whitespace(value).replace("\n", " "))


def _non_empty(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _iso639_1(code: str | None) -> str | None:
    # Pages declare a language with a region, e.g. "en-GB" or "en_GB"; keep the language part.
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    return base if len(base) == 2 and base.isalpha() else None


class Cleaned(NamedTuple):
    """What clean made of a batch: articles in item order, and the items it rejected."""

    articles: list[Article]
    rejects: list[Reject]

    def counts(self, rows_in: int) -> StageCount:
        return StageCount(rows_in, rows_out=len(self.articles), rejected=len(self.rejects))


def source_groups(items: list[Item], max_groups: int) -> list[list[Item]]:
    """Split items into at most `max_groups` contiguous groups that never split a source.

    Boilerplate is learnt per source, so each group cleans as the whole batch would.
    """
    runs: list[list[Item]] = []
    for item in items:
        if runs and runs[-1][0].source == item.source:
            runs[-1].append(item)
        else:
            runs.append([item])
    if not runs:
        return [[]]
    target = max(1, -(-len(items) // max_groups))
    groups: list[list[Item]] = [[]]
    for run in runs:
        if groups[-1] and len(groups[-1]) + len(run) > target and len(groups) < max_groups:
            groups.append([])
        groups[-1].extend(run)
    return groups
