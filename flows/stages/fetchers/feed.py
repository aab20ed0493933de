"""Feeds: RSS, Atom and RDF (via feedparser, always given bytes) and JSON Feed 1.x.

A feed's entries become items. Where an entry carries only a teaser, the item's
own page is fetched instead (see `FetchConfig.fetch_item_pages`), but only for a
feed that itself came over HTTP: a feed file on disk never causes network I/O.
"""

from __future__ import annotations

import html
import io
import json
import mimetypes
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin

import defusedxml.ElementTree
import feedparser
from defusedxml import DefusedXmlException

from flows.config import FetchConfig
from flows.records import Item, RawDocument
from flows.stages.fetchers.base import (
    FetcherSource,
    FetchResult,
    fetcher_or_temporary,
    looks_like_html,
    make_document,
    response_document,
    parse_datetime,
    read_local_file,
    word_count,
)
from flows.stages.fetchers.decode import (
    Decoded,
    charset_family,
    charset_from_content_type,
    charset_label,
    clean_optional,
    clean_text,
    decode_document,
)
from flows.stages.fetchers.http import FetchError, HttpFetcher, HttpResponse, is_http_url, one_line
from flows.stages.fetchers.page import check_page_response, page_document_and_item
from flows.stages.fetchers.sniff import is_json_feed, sniff_body

# Media types a feed may be served as; the body is sniffed either way, since
# servers label feeds text/plain, text/html or application/octet-stream... we accept
# the textual ones and refuse binary types outright.
_FEED_TYPE_MARKERS = ("xml", "rss", "atom", "json")
_SNIFFED_TYPES = ("text/plain", "text/html", "")


class NotAFeed(Exception):
    """The bytes are not a feed; the message says what they are instead."""


@dataclass(slots=True)
class FeedEntry:
    key: str  # the entry's id, else its link, else its position
    title: str | None
    link: str | None
    author: str | None
    published_at: datetime | None
    content: str  # the fullest body the entry carries ('' when none)
    content_format: Literal["html", "text"]


@dataclass(slots=True)
class ParsedFeed:
    version: str  # feedparser's version ("rss20", "atom10", ...) or "json1"
    entries: list[FeedEntry]
    encoding: str | None  # the codec the entries' text was decoded with
    malformed: str | None = None  # why the XML was not well formed, when entries were still read
    encoding_note: str | None = None  # why that codec, when it was not simply the declared one
    parse_warning: str | None = None  # feedparser's bozo exception, "ClassName: message"


def _refuse_entity_tricks(body: bytes) -> None:
    """Refuse entity declarations and external references before feedparser sees the bytes.

    feedparser's expat already disables external entities; defusedxml also stops
    internal entity expansion (billion laughs). Malformed XML is feedparser's to judge.
    """
    try:
        defusedxml.ElementTree.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise NotAFeed(
            f"refused: the XML declares entities or external references ({type(exc).__name__})"
        ) from exc
    except Exception:  # noqa: S110 - ParseError and friends: malformed XML is judged by feedparser
        pass


def _struct_time_to_utc(value: object) -> datetime | None:
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)  # type: ignore[index]  # feedparser gives UTC struct_time
    except (TypeError, ValueError):
        return None


def _entry_body(entry: feedparser.FeedParserDict) -> tuple[str, Literal["html", "text"]]:
    """content:encoded / atom:content if present (the longest one), else the summary."""
    candidates: list[tuple[str, str]] = []
    for part in entry.get("content") or []:
        value = part.get("value") or ""
        if value.strip():
            candidates.append((value, part.get("type") or ""))
    if not candidates:
        summary = entry.get("summary") or ""
        if summary.strip():
            detail = entry.get("summary_detail") or {}
            candidates.append((summary, detail.get("type") or ""))
    if not candidates:
        return "", "text"
    value, media_type = max(candidates, key=lambda c: len(c[0]))
    if "html" in media_type and "<" not in value:
        # feedparser types every RSS <description> text/html; one without a single tag is plain
        # text, and handing it to the HTML extractor would find no document in it.
        return html.unescape(value), "text"
    is_html = "html" in media_type or (media_type == "" and looks_like_html(value))
    return value, "html" if is_html else "text"


_RSS_AUTHOR_RE = re.compile(r"^\s*[^\s@()]+@[^\s()]+\s*\((?P<name>[^()]+)\)\s*$")


def _entry_author(entry: feedparser.FeedParserDict) -> str | None:
    raw = entry.get("author")
    # RSS 2.0 <author> is "email (Name)"; feedparser's own split mangles some addresses.
    match = _RSS_AUTHOR_RE.match(raw) if isinstance(raw, str) else None
    if match:
        return match.group("name")
    detail = entry.get("author_detail") or {}
    return detail.get("name") or raw


def _feedparser_content_type(content_type: str | None, charset: str | None = None) -> str:
    """The Content-Type feedparser is told: always an XML type, with `charset` when given.

    feedparser reads the charset from the header; a non-XML type would send it to its loose
    parser. A text/xml type without a charset is sent as application/xml: RFC 3023 made that
    US-ASCII, which RFC 7303 undid (the XML declaration decides), and feedparser still flags
    every non-ASCII feed served so.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    header_charset = charset_from_content_type(content_type)
    if not any(marker in mime for marker in ("xml", "rss", "atom")) or (
        mime.startswith("text/") and not header_charset
    ):
        mime = "application/xml"
    chosen = charset or header_charset
    return f"{mime}; charset={chosen}" if chosen else mime


def _feedparse(body: bytes, content_type: str, base_url: str | None) -> feedparser.FeedParserDict:
    headers = {"content-type": content_type}
    if base_url:
        headers["content-location"] = base_url  # resolves relative links in entries
    try:
        return feedparser.parse(io.BytesIO(body), response_headers=headers)
    except (ValueError, LookupError, TypeError) as exc:
        # feedparser trusts the declared encoding name (e.g. one with a NUL in it) and can raise
        # where it would normally set `bozo`; to the caller that is simply not a readable feed.
        raise NotAFeed(f"not a valid feed: feedparser could not decode it ({type(exc).__name__}: "
                       f"{one_line(str(exc), 200)})") from exc


def _parse_warning(parsed: feedparser.FeedParserDict) -> str | None:
    """feedparser's bozo flag as one line, "ClassName: message" (None when the feed was clean)."""
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "bozo: not well-formed"
    return one_line(f"{type(exc).__name__}: {exc}", 300)


def _join_notes(*parts: str | None) -> str | None:
    return "; ".join(p for p in parts if p) or None


def _same_charset(body: bytes, ours: str, theirs: str | None) -> bool:
    """Do our codec and the one feedparser names read these bytes alike?"""
    if not theirs:
        return False
    ours_family, theirs_family = charset_family(ours), charset_family(theirs)
    if ours_family == theirs_family:
        return True
    wide = ("utf-16", "utf-32")
    # Pure ASCII reads the same in every ASCII-compatible charset either side may name.
    return body.isascii() and not any((f or "").startswith(wide) for f in (ours_family, theirs_family))


def _parse_xml_feed(body: bytes, *, base_url: str | None, content_type: str | None) -> ParsedFeed:
    """Parse with feedparser, which decodes the bytes itself; its charset is checked against ours.

    Where feedparser settles on another charset than `decode_document` (it obeys a header
    that says windows-1252 over a UTF-8 body, and then "Ã©" is stored), the feed is parsed
    again with our charset in the header, and the note says so. feedparser's own bozo
    warning (e.g. CharacterEncodingOverride when the declaration lied) is kept as
    `parse_warning`, from the parse whose entries are used.
    """
    _refuse_entity_tricks(body)
    decided = decode_document(body, content_type=content_type)
    note = decided.note
    parsed = _feedparse(body, _feedparser_content_type(content_type), base_url)
    if not _same_charset(body, decided.codec, parsed.get("encoding")):
        first = parsed.get("encoding")
        parsed = _feedparse(body, _feedparser_content_type(content_type, decided.charset), base_url)
        read_as = charset_label(first) if first else "unknown"
        note = _join_notes(note, f"feedparser read it as {read_as}; parsed again as {decided.charset}")
    encoding = decided.codec
    if not _same_charset(body, decided.codec, parsed.get("encoding")):
        # feedparser would not use our charset (it did not decode the whole body): say what it used
        used = parsed.get("encoding")
        encoding = used or decided.codec
        note = _join_notes(note, f"feedparser decoded the entries as {used or 'unknown'}")
    problem = None
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.exceptions.ThingsNobodyCaresAboutButMe
    ):
        problem = one_line(str(parsed.get("bozo_exception") or "not well-formed"), 160)
    usable = [e for e in parsed.entries if e.get("link") or e.get("content") or e.get("summary")]
    if not usable:
        if problem:
            raise NotAFeed(f"not a valid feed: malformed XML ({problem}) and no entries could be read")
        if not parsed.get("version"):
            raise NotAFeed("not a feed: XML, but not RSS, Atom or RDF")
    entries = []
    for position, entry in enumerate(parsed.entries):
        content, content_format = _entry_body(entry)
        link = entry.get("link")
        entries.append(
            FeedEntry(
                key=str(entry.get("id") or link or f"entry-{position}"),
                title=entry.get("title"),
                link=link,
                author=_entry_author(entry),
                published_at=_struct_time_to_utc(
                    entry.get("published_parsed")
                    or entry.get("updated_parsed")
                    or entry.get("created_parsed")
                ),
                content=content,
                content_format=content_format,
            )
        )
    return ParsedFeed(
        version=parsed.get("version") or "unknown",
        entries=entries,
        encoding=encoding,
        malformed=problem,
        encoding_note=note,
        parse_warning=_parse_warning(parsed),
    )


def _json_feed_author(item: dict, feed: dict) -> str | None:
    # JSON Feed 1.1 has "authors" lists; 1.0 has a single "author"; items inherit the feed's.
    for holder in (item, feed):
        authors = holder.get("authors")
        if isinstance(authors, list):
            names = [a.get("name") for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
            if names:
                return ", ".join(names)
        author = holder.get("author")
        if isinstance(author, dict) and isinstance(author.get("name"), str):
            return author["name"]
    return None


def _parse_json_feed(data: dict, *, base_url: str | None, decoded: Decoded) -> ParsedFeed:
    items = data.get("items")
    if not isinstance(items, list):
        raise NotAFeed("not a valid JSON Feed: 'items' is missing or not a list")
    base = base_url or (data.get("feed_url") if isinstance(data.get("feed_url"), str) else None)
    entries = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        link = link if isinstance(link, str) else None
        if link and base:
            link = urljoin(base, link)
        if isinstance(item.get("content_html"), str) and item["content_html"].strip():
            content, content_format = item["content_html"], "html"
        elif isinstance(item.get("content_text"), str) and item["content_text"].strip():
            content, content_format = item["content_text"], "text"
        elif isinstance(item.get("summary"), str):
            content, content_format = item["summary"], "text"
        else:
            content, content_format = "", "text"
        entries.append(
            FeedEntry(
                key=str(item.get("id") or link or f"entry-{position}"),
                title=item.get("title") if isinstance(item.get("title"), str) else None,
                link=link,
                author=_json_feed_author(item, data),
                published_at=parse_datetime(item.get("date_published") or item.get("date_modified")),
                content=content,
                content_format=content_format,  # type: ignore[arg-type]
            )
        )
    return ParsedFeed(
        version="json" + str(data.get("version", "")).rsplit("/", 1)[-1], entries=entries,
        encoding=decoded.codec, encoding_note=decoded.note,
    )


def parse_feed_bytes(
    body: bytes, *, base_url: str | None = None, content_type: str | None = None
) -> ParsedFeed:
    """Parse a feed's bytes (RSS/Atom/RDF or JSON Feed). Raises NotAFeed saying what the bytes are."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if not any(marker in mime for marker in _FEED_TYPE_MARKERS) and mime not in _SNIFFED_TYPES:
        raise NotAFeed(f"not a feed (got {mime})")
    kind = sniff_body(body)
    if kind == "html":
        served_as = f"; served as {mime}" if mime and mime != "text/html" else ""
        raise NotAFeed(
            f"not a feed (got text/html{served_as}); an error or login page? "
            'if this is an article page, use kind = "page"'
        )
    if kind == "json-feed":
        decoded = decode_document(body, content_type=content_type)
        return _parse_json_feed(json.loads(decoded.text), base_url=base_url, decoded=decoded)
    if kind == "json":
        raise NotAFeed("not a feed: JSON without a https://jsonfeed.org/version/1 'version'")
    if kind in ("xml-feed", "xml"):
        return _parse_xml_feed(body, base_url=base_url, content_type=content_type)
    raise NotAFeed(f"not a feed: neither XML nor JSON (looks like {kind})")


def feed_decoding(feed: ParsedFeed) -> dict[str, str | None]:
    """The decoding record `make_document` keeps on the feed's document row."""
    return {"encoding": feed.encoding, "encoding_note": feed.encoding_note,
            "parse_warning": feed.parse_warning}


def _entry_item(source: str, document: RawDocument, feed: ParsedFeed, entry: FeedEntry) -> Item:
    return Item(
        doc_id=document.doc_id,
        source=source,
        uri=f"{document.uri}#{entry.key}",
        format=entry.content_format,
        content=clean_text(entry.content),
        fetched_at=document.fetched_at,
        url=clean_optional(entry.link),
        title=clean_optional(entry.title),
        author=clean_optional(entry.author),
        published_at=entry.published_at,
        encoding=feed.encoding,
    )


def _wants_page(entry: FeedEntry, cfg: FetchConfig) -> bool:
    if not entry.link or not is_http_url(entry.link):
        return False
    if cfg.fetch_item_pages == "always":
        return True
    if cfg.fetch_item_pages == "never":
        return False
    return word_count(entry.content) < cfg.min_item_content_words


def _fetch_page(fetcher: HttpFetcher, url: str) -> HttpResponse | FetchError:
    try:
        response = fetcher.get(url)
    except FetchError as exc:
        return exc
    if response.nothing_new:
        return response
    try:
        check_page_response(response)
    except FetchError as exc:
        fetcher.forget_validators(url)  # not a page: report it again next run rather than a silent 304
        return exc
    return response


def feed_result(
    source: str,
    document: RawDocument,
    feed: ParsedFeed,
    cfg: FetchConfig,
    fetcher: HttpFetcher | None,
    *,
    feed_url: str | None = None,
) -> FetchResult:
    """Items for a parsed feed: entry content, or the entry's page when the entry is a teaser.

    Item pages are fetched only when `fetcher` is given (the feed came over HTTP).
    A page the warehouse already holds is not fetched again (its entry gives no
    item: the article is stored), and at most `cfg.max_pages_per_source` pages are
    requested. When some entries were put off (the page cap, or a page that may be
    readable next time), the feed's validators are forgotten (`feed_url`, the URL the
    feed was requested as), so the next run reads it in full instead of getting a
    304 and never seeing those entries again.
    """
    result = FetchResult(documents=[document])
    feed_input = document.uri
    if feed.malformed:
        result.reject(
            source,
            feed_input,
            f"feed {feed_input}: malformed XML ({feed.malformed}); kept the {len(feed.entries)} entries read",
        )
    entries = feed.entries
    if not entries and fetcher is not None and feed_url is not None and fetcher.read_before(feed_url):
        # Not an error on its own (a quiet feed), but a feed that used to be read and now parses
        # to nothing has often moved or broken: say so in the run's rejects.
        result.reject(
            source,
            feed_input,
            f"feed {feed_input}: parsed, but 0 entries, and it was read before; "
            "has the feed moved, or does it now serve something else?",
        )
    if len(entries) > cfg.max_items_per_feed:
        result.reject(
            source,
            feed_input,
            f"feed {feed_input}: {len(entries)} entries, kept the first {cfg.max_items_per_feed} "
            "(fetch.max_items_per_feed)",
        )
        entries = entries[: cfg.max_items_per_feed]

    # No fetcher means the feed was read from disk: a local file never causes network I/O.
    page_urls: dict[int, str] = {}
    stored: set[int] = set()
    deferred: set[int] = set()
    if fetcher is not None:
        wanted = {i: e.link for i, e in enumerate(entries) if e.link and _wants_page(e, cfg)}
        stored = {i for i, link in wanted.items() if fetcher.holds_page(link)}
        result.already_fetched += len(stored)
        to_fetch = [(i, link) for i, link in wanted.items() if i not in stored]
        cap = max(0, cfg.max_pages_per_source)
        deferred = {i for i, _ in to_fetch[cap:]}
        page_urls = dict(to_fetch[:cap])
        if deferred:
            result.reject(
                source,
                feed_input,
                f"feed {feed_input}: {len(to_fetch)} item pages to fetch, fetched the first {cap} "
                f"(fetch.max_pages_per_source); the other {len(deferred)} are fetched in a later run",
            )
    read_again_next_run = bool(deferred)
    pages: dict[int, HttpResponse | FetchError] = {}
    if page_urls and fetcher is not None:
        workers = max(1, min(cfg.concurrency, len(page_urls)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wirelake-page") as pool:
            fetched = pool.map(lambda url: _fetch_page(fetcher, url), page_urls.values())
            pages = dict(zip(page_urls.keys(), fetched, strict=True))

    for index, entry in enumerate(entries):
        if index in stored or index in deferred:
            continue  # stored already, or its page comes in a later run (a teaser now would be a thin copy)
        page = pages.get(index)
        if isinstance(page, HttpResponse):
            if result.count_nothing_new(page):
                continue  # refetch_pages: the stored page has not changed
            page_document, page_item = page_document_and_item(
                source, page, title=entry.title, author=entry.author, published_at=entry.published_at
            )
            result.documents.append(page_document)
            result.items.append(page_item)
            continue
        if isinstance(page, FetchError):
            read_again_next_run = read_again_next_run or page.try_next_run
            fallback = " (kept the entry's own content)" if entry.content.strip() else ""
            result.reject(source, entry.link or feed_input, f"{page}{fallback}")
        if entry.content.strip():
            result.items.append(_entry_item(source, document, feed, entry))
        elif page is None:
            result.reject(
                source,
                f"{feed_input}#{entry.key}",
                f"feed {feed_input}: entry {entry.key} has no content and its page was not fetched",
            )
    if read_again_next_run and fetcher is not None and feed_url is not None:
        fetcher.forget_validators(feed_url)
    return result


def items_from_feed_response(
    source: str, response: HttpResponse, cfg: FetchConfig, fetcher: HttpFetcher | None
) -> FetchResult:
    try:
        feed = parse_feed_bytes(response.body, base_url=response.url, content_type=response.content_type)
    except NotAFeed as exc:
        if fetcher is not None:
            fetcher.forget_validators(response.requested_url)  # report it again next run, not a silent 304
        result = FetchResult()
        result.reject(source, response.requested_url, f"feed {response.requested_url}: {exc}")
        return result
    document = response_document(source, response, **feed_decoding(feed))
    return feed_result(source, document, feed, cfg, fetcher, feed_url=response.requested_url)


def items_from_feed_file(
    source: str,
    path: Path,
    cfg: FetchConfig,
    body: bytes | None = None,
    *,
    fetched_at: datetime | None = None,
) -> FetchResult:
    """A feed saved on disk: parsed like a fetched one, but never fetches item pages.

    With `body` given nothing is read from disk; `fetched_at` (default: now) lets `reprocess`
    rebuild the items of a stored copy with the time it was first read.
    """
    try:
        if body is None:
            body = read_local_file(path, cfg.max_file_bytes)
        feed = parse_feed_bytes(body)
    except FetchError as exc:
        result = FetchResult()
        result.reject(source, str(path), str(exc))
        return result
    except NotAFeed as exc:
        result = FetchResult()
        result.reject(source, str(path), f"feed {path}: {exc}")
        return result
    document = make_document(
        source=source,
        uri=str(path),
        body=body,
        fetched_at=fetched_at or datetime.now(UTC),
        http_status=None,
        content_type=mimetypes.guess_type(path.name)[0],
        **feed_decoding(feed),
    )
    return feed_result(source, document, feed, cfg, fetcher=None)


def is_feed_file(path: Path, body: bytes | None = None) -> bool:
    """Is this local file a feed? .xml/.rss/.atom files are; a .json file is when it is a JSON Feed."""
    suffix = path.suffix.lower()
    if suffix in (".rss", ".atom", ".xml", ".rdf"):
        return True
    if suffix == ".json":
        if body is None:
            try:
                with path.open("rb") as handle:
                    body = handle.read(64 * 1024)
            except OSError:
                return False
        head = body.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"{"):
            return False
        try:
            return is_json_feed(json.loads(body.decode("utf-8-sig")))
        except (UnicodeDecodeError, ValueError):
            return b"jsonfeed.org/version/1" in body[:4096]
    return False


class FeedSource(FetcherSource):
    """An RSS/Atom/RDF/JSON feed, from an http(s) URL or a local file."""

    def fetch(self) -> FetchResult:
        if not is_http_url(self.location):
            return items_from_feed_file(self.name, Path(self.location), self.cfg)
        with fetcher_or_temporary(self.fetcher, self.cfg, self.location) as fetcher:
            result = FetchResult()
            response = self.get_new(fetcher, result)
            if response is None:
                return result  # failed, or a 304 / the same bytes as last run: no entries to read again
            return items_from_feed_response(self.name, response, self.cfg, fetcher)
