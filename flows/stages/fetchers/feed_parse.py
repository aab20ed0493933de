"""Feed parsing: RSS, Atom and RDF (via feedparser, always given bytes) and JSON Feed 1.x.

`parse_feed_bytes` turns a feed's bytes into a `ParsedFeed` of `FeedEntry`s, refusing entity
tricks before any parser sees them; `flows/stages/fetchers/feed.py` makes items of the entries.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urljoin

import defusedxml.ElementTree
import feedparser
from defusedxml import DefusedXmlException

from flows.stages.fetchers.base import looks_like_html, parse_datetime
from flows.stages.fetchers.decode import (
    Decoded,
    charset_family,
    charset_from_content_type,
    charset_label,
    decode_document,
)
from flows.stages.fetchers.http import one_line
from flows.stages.fetchers.sniff import sniff_body

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
