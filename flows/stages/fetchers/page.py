"""Web pages: one GET, one HTML item whose url is the final URL after redirects."""

from __future__ import annotations

from datetime import datetime

from flows.config import FetchConfig
from flows.records import Item, RawDocument
from flows.stages.fetchers.base import (
    FetcherSource,
    FetchResult,
    fetcher_or_temporary,
    html_title_hint,
    response_document,
)
from flows.stages.fetchers.decode import clean_optional, clean_text, decode_document
from flows.stages.fetchers.http import FetchError, HttpFetcher, HttpResponse
from flows.stages.fetchers.sniff import sniff_body

PAGE_MIME_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def check_page_response(response: HttpResponse) -> None:
    """Raise FetchError unless the response is an HTML page (by header, or by body when unlabelled)."""
    mime = response.mime_type
    if mime in PAGE_MIME_TYPES:
        return
    if mime in ("", "text/plain") and sniff_body(response.body) == "html":
        return  # unlabelled (or mislabelled as text) HTML is still a page
    raise FetchError(
        f"GET {response.requested_url}: not a web page (got {mime or 'no content type'}); "
        "only text/html and application/xhtml+xml pages are read"
    )


def page_document_and_item(
    source: str,
    response: HttpResponse,
    *,
    title: str | None = None,
    author: str | None = None,
    published_at: datetime | None = None,
) -> tuple[RawDocument, Item]:
    """The document and HTML item for a page response; feed entry metadata may be passed as hints."""
    decoded = decode_document(response.body, content_type=response.content_type)
    document = response_document(source, response, encoding=decoded.codec, encoding_note=decoded.note)
    content = clean_text(decoded.text)
    item = Item(
        doc_id=document.doc_id,
        source=source,
        uri=response.url,
        format="html",
        content=content,
        fetched_at=response.fetched_at,
        url=clean_optional(response.url),
        title=clean_optional(title) or html_title_hint(content),
        author=clean_optional(author),
        published_at=published_at,
        encoding=decoded.codec,
    )
    return document, item


def items_from_page_response(source: str, response: HttpResponse) -> FetchResult:
    result = FetchResult()
    try:
        check_page_response(response)
    except FetchError as exc:
        result.reject(source, response.requested_url, str(exc))
        return result
    document, item = page_document_and_item(source, response)
    result.documents.append(document)
    if item.content.strip():
        result.items.append(item)
    else:
        result.reject(source, response.requested_url, f"GET {response.requested_url}: empty page")
    return result


class PageSource(FetcherSource):
    """One web page URL."""

    def fetch(self) -> FetchResult:
        result = FetchResult()
        with fetcher_or_temporary(self.fetcher, self.cfg, self.location) as fetcher:
            if fetcher.holds_page(self.location):
                result.already_fetched += 1  # stored by an earlier run; fetch.refetch_pages re-reads it
                return result
            response = self.get_new(fetcher, result)
            if response is None:
                return result
            page = items_from_page_response(self.name, response)
            if page.rejects:
                fetcher.forget_validators(self.location)  # so the next run reports it again, not a 304
        result.extend(page)
        return result
