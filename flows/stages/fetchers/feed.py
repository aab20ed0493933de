"""Feeds: RSS, Atom and RDF (via feedparser, always given bytes) and JSON Feed 1.x.

A feed's entries become items. Where an entry carries only a teaser, the item's
own page is fetched instead (see `FetchConfig.fetch_item_pages`), but only for a
feed that itself came over HTTP: a feed file on disk never causes network I/O.
"""

from __future__ import annotations

import io
import json
import mimetypes
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from flows.config import FetchConfig
from flows.records import Item, RawDocument
from flows.stages.fetchers.base import (
    FetcherSource,
    FetchResult,
    fetcher_or_temporary,
    make_document,
    read_local_file,
    response_document,
    word_count,
)
from flows.stages.fetchers.decode import clean_optional, clean_text
from flows.stages.fetchers.feed_parse import (  # noqa: F401 - NotAFeed, parse_feed_bytes: this module's API
    FeedEntry,
    NotAFeed,
    ParsedFeed,
    feed_decoding,
    parse_feed_bytes,
)
from flows.stages.fetchers.http import FetchError, HttpFetcher, HttpResponse, is_http_url
from flows.stages.fetchers.page import check_page_response, page_document_and_item
from flows.stages.fetchers.sniff import is_json_feed

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
