"""What every source returns, and the interface sources implement."""

from __future__ import annotations

import email.utils
import html
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flows.config import FetchConfig
from flows.records import Item, RawDocument, Reject, StageCount, content_key, sha256_hex
from flows.stages.fetchers.decode import charset_label, clean_optional
from flows.stages.fetchers.http import FetchError, HttpFetcher, HttpResponse, one_line
from flows.stages.fetchers.url_policy import UrlPolicy

STAGE = "fetch"


@dataclass(slots=True)
class FetchResult:
    """Everything one fetch produced; rejects say what could not be read and why.

    The counters say what was deliberately *not* turned into items, so the run
    summary can reconcile "requested" with "read": a 304 to a conditional request
    (`not_modified`), a 2xx whose body hashes to the stored one (`unchanged`), and a
    feed item page the warehouse already holds, not requested again (`already_fetched`).
    `fetch_state` holds the new `fetch_state` row (a dict with the table's columns)
    of every URL requested this run; `fetch_all` fills it, and the flow writes it
    with "replace by url".
    """

    documents: list[RawDocument] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    not_modified: int = 0
    unchanged: int = 0
    already_fetched: int = 0
    fetch_state: list[dict[str, object]] = field(default_factory=list)
    # One health record per configured source (`flows.health.source_health`); `fetch_all` fills it.
    source_health: list[dict[str, object]] = field(default_factory=list)

    def counts(self, rows_in: int) -> StageCount:
        return StageCount(rows_in, rows_out=len(self.items), rejected=len(self.rejects),
                          extra={"documents": len(self.documents), "not_modified": self.not_modified,
                                 "unchanged": self.unchanged, "already_fetched": self.already_fetched})

    def extend(self, other: FetchResult) -> None:
        self.documents.extend(other.documents)
        self.items.extend(other.items)
        self.rejects.extend(other.rejects)
        self.not_modified += other.not_modified
        self.unchanged += other.unchanged
        self.already_fetched += other.already_fetched
        self.fetch_state.extend(other.fetch_state)

    def count_nothing_new(self, response: HttpResponse) -> bool:
        """Count a 304 or an unchanged body; True when `response` carries nothing new to read."""
        if response.not_modified:
            self.not_modified += 1
        elif response.unchanged:
            self.unchanged += 1
        return response.nothing_new

    def reject(self, source: str, input_: str, error: str) -> None:
        self.rejects.append(Reject(source=source, input=input_, stage=STAGE, error=one_line(error)))


class ArticleSource(ABC):
    """One configured input that can be read into documents and items.

    `fetch()` never raises for a bad input: failures become `Reject`s in the result,
    so one broken feed or file never stops the others.
    """

    name: str
    location: str

    @abstractmethod
    def fetch(self) -> FetchResult: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, location={self.location!r})"


class FetcherSource(ArticleSource):
    """A source that may go over HTTP: it shares the run's fetcher, or makes its own."""

    def __init__(self, name: str, location: str, cfg: FetchConfig, fetcher: HttpFetcher | None = None):
        self.name = name
        self.location = location
        self.cfg = cfg
        self.fetcher = fetcher

    def get_new(self, fetcher: HttpFetcher, result: FetchResult) -> HttpResponse | None:
        """GET this source's URL; None when there is nothing new to read (a 304 or the same bytes
        as last run, counted in `result`) or it failed (the reject is in `result`)."""
        try:
            response = fetcher.get(self.location)
        except FetchError as exc:
            result.reject(self.name, self.location, str(exc))
            return None
        return None if result.count_nothing_new(response) else response


def response_document(source: str, response: HttpResponse, **decoding: str | None) -> RawDocument:
    """The document record of an HTTP response; `decoding` is `make_document`'s encoding fields."""
    return make_document(source=source, uri=response.url, body=response.body, fetched_at=response.fetched_at,
                         http_status=response.status, content_type=response.content_type, **decoding)


def make_document(
    *,
    source: str,
    uri: str,
    body: bytes,
    fetched_at: datetime,
    http_status: int | None,
    content_type: str | None,
    encoding: str | None = None,
    encoding_note: str | None = None,
    parse_warning: str | None = None,
) -> RawDocument:
    """The document record of one read; `encoding` is the codec the text was decoded with."""
    digest = sha256_hex(body)
    return RawDocument(
        doc_id=content_key(uri, digest),
        source=source,
        uri=uri,
        fetched_at=fetched_at,
        http_status=http_status,
        content_type=content_type,
        sha256=digest,
        bytes=len(body),
        body=body,
        encoding=charset_label(encoding) if encoding else None,
        # Notes quote labels and parser messages from the document: stored clean, on one line.
        encoding_note=clean_optional(encoding_note),
        parse_warning=clean_optional(parse_warning),
    )


_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_TAG_RE = re.compile(r"<[^>]+>")


def html_title_hint(markup: str) -> str | None:
    """The <title> of an HTML document, as a hint for clean (which may do better)."""
    match = _TITLE_RE.search(markup[:65536])
    if not match:
        return None
    return clean_optional(html.unescape(_TAG_RE.sub(" ", match.group(1))))


def word_count(markup_or_text: str) -> int:
    """Words in a text or an HTML fragment (tags removed)."""
    return len(html.unescape(_TAG_RE.sub(" ", markup_or_text)).split())


def looks_like_html(text: str) -> bool:
    return bool(re.search(r"<(p|div|br|a|em|strong|span|h[1-6]|ul|ol|li|img|blockquote)\b", text, re.I))


def read_local_file(path: Path, max_bytes: int) -> bytes:
    """Read a whole local file, refusing (not truncating) one larger than max_bytes."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(
                f"file {path}: {size} bytes exceeds max_file_bytes={max_bytes}; "
                "raise fetch.max_file_bytes to read it"
            )
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise FetchError(f"file {path}: cannot read ({exc.strerror or exc})") from exc
    if len(body) > max_bytes:
        raise FetchError(f"file {path}: larger than max_file_bytes={max_bytes}")
    if not body.strip():
        raise FetchError(f"file {path}: empty file")
    return body


@contextmanager
def fetcher_or_temporary(
    fetcher: HttpFetcher | None, cfg: FetchConfig, location: str
) -> Iterator[HttpFetcher]:
    """Use the run's shared fetcher, or (for a source used on its own) a short-lived one.

    The short-lived one trusts only the source's own host:port (`location`), so the
    item links of a feed read on its own meet the same URL policy as in a run.
    """
    if fetcher is not None:
        yield fetcher
        return
    with HttpFetcher(cfg, policy=UrlPolicy.for_urls([location])) as temporary:
        yield temporary


def parse_datetime(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from ISO 8601, RFC 2822 or epoch seconds; None if unreadable.

    A time without a zone is taken as UTC: feeds and exports that omit it are
    overwhelmingly UTC, and clean/extract need comparable instants.
    """
    parsed: datetime | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            parsed = datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
