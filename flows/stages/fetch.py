"""The fetch stage: read every configured source into raw documents and items.

    fetch_all(sources, cfg, *, client=None, state=None)
        -> FetchResult(documents, items, rejects, not_modified, unchanged,
                       already_fetched, fetch_state)

Each `Source` becomes an `ArticleSource` (`make_source`): a local folder or file,
a feed (RSS/Atom/RDF/JSON Feed, over HTTP or on disk) or a web page. Sources are
independent: they run on a bounded thread pool, and a source that fails becomes
a `Reject` naming it while the others go on. Every HTTP request goes through one
`HttpFetcher` shared by the run: timeouts, total deadline, size cap, redirects, the
URL policy (SSRF guard), robots.txt, per-host rate limits, retries, and conditional
requests from the warehouse's `fetch_state` (see `fetchers/http.py`).

The implementations live in `flows.stages.fetchers`; this module is the stage's
public face and does no work at import time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from flows.config import FetchConfig
from flows.health import source_health
from flows.records import Source
from flows.stages.fetchers.base import ArticleSource, FetchResult, FetcherSource, fetcher_or_temporary
from flows.stages.fetchers.decode import clean_text, decode_bytes
from flows.stages.fetchers.feed import (
    FeedSource,
    NotAFeed,
    is_feed_file,
    items_from_feed_response,
    parse_feed_bytes,
)
from flows.stages.fetchers.http import FetchError, HttpFetcher, HttpResponse, is_http_url
from flows.stages.fetchers.local import LocalSource, split_title
from flows.stages.fetchers.page import PageSource, items_from_page_response
from flows.stages.fetchers.sniff import sniff_body
from flows.stages.fetchers.state import FETCH_STATE_COLUMNS, FetchState, FetchStateRow
from flows.stages.fetchers.url_policy import UnsafeUrl, UrlPolicy, host_key

__all__ = [
    "ArticleSource",
    "AutoUrlSource",
    "FETCH_STATE_COLUMNS",
    "FeedSource",
    "FetchError",
    "FetchResult",
    "FetchState",
    "FetchStateRow",
    "HttpFetcher",
    "HttpResponse",
    "LocalSource",
    "NotAFeed",
    "PageSource",
    "UnsafeUrl",
    "UrlPolicy",
    "clean_text",
    "decode_bytes",
    "fetch_all",
    "host_key",
    "make_source",
    "parse_feed_bytes",
    "split_title",
]


class AutoUrlSource(FetcherSource):
    """An http(s) URL of unknown kind: one GET, then read as a feed or a page by what came back."""

    def fetch(self) -> FetchResult:
        # Always requested (conditionally), like a feed: until it answers we do not know it is a page.
        with fetcher_or_temporary(self.fetcher, self.cfg, self.location) as fetcher:
            result = FetchResult()
            response = self.get_new(fetcher, result)
            if response is None:
                return result
            body_kind = sniff_body(response.body)
            if body_kind in ("xml-feed", "json-feed"):
                return items_from_feed_response(self.name, response, self.cfg, fetcher)
            if body_kind == "html" or response.mime_type in ("text/html", "application/xhtml+xml"):
                page = items_from_page_response(self.name, response)
                if page.rejects:
                    fetcher.forget_validators(self.location)
                return page
            if any(marker in response.mime_type for marker in ("xml", "rss", "atom", "json")):
                return items_from_feed_response(self.name, response, self.cfg, fetcher)  # rejects saying why
            fetcher.forget_validators(self.location)
            got = response.mime_type or "no content type"
            result.reject(
                self.name,
                self.location,
                f"GET {self.location}: neither a feed nor a web page "
                f'(got {got}, body looks like {body_kind}); set kind = "feed" or "page" if it is one',
            )
            return result


def make_source(spec: Source, cfg: FetchConfig, *, fetcher: HttpFetcher | None = None,
                stored_documents: frozenset[str] = frozenset()) -> ArticleSource:
    """The ArticleSource for a configured input. Does no I/O beyond looking at local paths.

    kind "auto": an http(s) URL is fetched once and read as a feed or a page by what
    the server sends; a local .xml/.rss/.atom/.rdf file, or a .json file that is a JSON
    Feed, is a feed; any other local path is a folder or file. Raises ValueError for a
    spec that cannot work (e.g. kind "page" with a local path).
    """
    location = spec.location.strip()
    scheme = urlsplit(location).scheme.lower()
    is_url = is_http_url(location)
    if "://" in location and not is_url:
        raise ValueError(
            f"source {spec.name}: {location}: only http(s) URLs and local paths are supported (got {scheme}:)"
        )
    if spec.kind == "local":
        if is_url:
            raise ValueError(f'source {spec.name}: kind "local" needs a path, got the URL {location}')
        return LocalSource(spec.name, location, cfg, stored_documents)
    if spec.kind == "feed":
        return FeedSource(spec.name, location, cfg, fetcher)
    if spec.kind == "page":
        if not is_url:
            raise ValueError(
                f'source {spec.name}: kind "page" needs an http(s) URL, got {location}; '
                'for a local HTML file use kind "local"'
            )
        return PageSource(spec.name, location, cfg, fetcher)
    if spec.kind != "auto":
        raise ValueError(f"source {spec.name}: unknown kind {spec.kind!r}; use auto, local, feed or page")
    if is_url:
        return AutoUrlSource(spec.name, location, cfg, fetcher)
    path = Path(location).expanduser()
    if path.is_file() and is_feed_file(path):
        return FeedSource(spec.name, str(path), cfg, fetcher)
    return LocalSource(spec.name, location, cfg, stored_documents)


def _fetch_one(source: ArticleSource) -> FetchResult:
    try:
        return source.fetch()
    except Exception as exc:  # a bug reading one input must not lose the others' results
        result = FetchResult()
        result.reject(
            source.name,
            source.location,
            f"source {source.name} ({source.location}): unexpected {type(exc).__name__}: {exc}",
        )
        return result


def fetch_all(
    sources: list[Source],
    cfg: FetchConfig,
    *,
    client: httpx.Client | None = None,
    state: FetchState | None = None,
) -> FetchResult:
    """Fetch every source; results come back in source order whatever order they finish in.

    `client` lets the caller share a connection pool (and tests a transport); its
    timeouts are overridden per request with cfg's. At most cfg.concurrency HTTP
    requests are in flight at once, feeds' item pages included, and at most
    cfg.per_host_concurrency to one host:port.

    `state` is the warehouse's fetch_state (`FetchState.from_arrow`): requests are
    conditional on it, stored pages are not fetched again, and a local file whose path and
    bytes match a stored document is not read again (counted as `unchanged`). The configured
    sources' host:ports are trusted by the URL policy; every other host (item
    links, redirects) must resolve to public addresses. The result's
    `fetch_state` holds the new row of every URL requested, for the flow to write
    back ("replace by url").
    """
    result = FetchResult()
    policy = UrlPolicy.for_urls(spec.location for spec in sources)
    stored = state.stored_documents if state is not None else frozenset()
    with HttpFetcher(cfg, client, policy=policy, state=state) as fetcher:
        built: list[ArticleSource] = []
        unbuilt: list[tuple[str, FetchResult]] = []
        for spec in sources:
            try:
                built.append(make_source(spec, cfg, fetcher=fetcher, stored_documents=stored))
            except ValueError as exc:
                unbuilt.append((spec.name, FetchResult()))
                unbuilt[-1][1].reject(spec.name, spec.location, str(exc))
        outcomes: list[FetchResult] = []
        if built:
            workers = max(1, min(cfg.concurrency, len(built)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wirelake-fetch") as pool:
                outcomes = list(pool.map(_fetch_one, built))
        per_source = unbuilt + [(source.name, outcome) for source, outcome in zip(built, outcomes, strict=True)]
        for _, outcome in per_source:
            result.extend(outcome)
        result.source_health = [source_health(name, outcome) for name, outcome in per_source]
        if built:  # nothing requested: no fetch_state rows
            result.fetch_state = fetcher.fetch_state_rows()
    return result
