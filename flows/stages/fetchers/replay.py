"""Replay: rebuild one item from a stored raw document, exactly as the fetch stage built it.

`wirelake reprocess` re-runs clean → extract from the raw store instead of the network.
For that it needs the `Item` the fetch stage made from a document, and it gets it from
the same functions the live path calls, given the stored bytes instead of a fresh read:

    local file (txt, html, json, jsonl)   local.items_from_file_bytes
    local feed file                       feed.items_from_feed_file (with the bytes)
    feed over HTTP                        feed.items_from_feed_response (no fetcher: no page fetches)
    web page                              page.page_document_and_item

The document row says which one applies: an http(s) `uri` is a page when the item was
read at the document's own URL and a feed when it was read at `uri#entry-key`; a local
path is read as `LocalSource` reads it, and as a feed file when that does not name the
item (a feed saved with another extension and `kind = "feed"`). The item is picked by
its `item_uri` (`path`, `path#L7`, `path#3`, `feed#entry-id`, the page URL).

Pure: no network, no disk access beyond the bytes given, no clock (the stored
`fetched_at` is used).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.config import FetchConfig
from flows.records import Item, Reject, as_utc, sha256_hex
from flows.stages.fetchers.base import FetchResult
from flows.stages.fetchers.feed import items_from_feed_file, items_from_feed_response
from flows.stages.fetchers.http import HttpResponse, is_http_url, one_line
from flows.stages.fetchers.local import items_from_file_bytes
from flows.stages.fetchers.page import page_document_and_item

STAGE = "reprocess"
DOCUMENT_FIELDS = ("doc_id", "source", "uri", "fetched_at", "http_status", "content_type", "sha256")


def items_from_stored(doc_row: Mapping[str, Any], body: bytes, item_uri: str,
                      cfg: FetchConfig) -> Item | Reject:
    """The item read at `item_uri` from a stored document, or a Reject saying why it cannot be.

    `doc_row` is a `documents` row (at least DOCUMENT_FIELDS) and `body` its raw bytes.
    The bytes must hash to the row's sha256 and rebuild the row's doc_id, so an item
    replayed from the wrong or a damaged file is refused rather than stored.
    """
    missing = [name for name in DOCUMENT_FIELDS if name not in doc_row]
    if missing:
        raise ValueError(f"items_from_stored: document row lacks {missing}; "
                         "pass a row of the documents table")
    doc_id, source, uri = str(doc_row["doc_id"]), str(doc_row["source"]), str(doc_row["uri"])
    where = f"document {doc_id} ({uri})"
    if sha256_hex(body) != doc_row["sha256"]:
        return _reject(source, item_uri, f"{where}: the raw bytes do not hash to the stored sha256 "
                                         f"{doc_row['sha256']}; the raw store copy is damaged")
    fetched_at = _as_utc(doc_row["fetched_at"])
    try:
        if is_http_url(uri):
            item = _from_http_document(doc_row, body, item_uri, cfg, fetched_at)
        else:
            item = _from_local_document(source, uri, body, item_uri, cfg, fetched_at)
    except Exception as exc:  # noqa: BLE001 - one unreadable document must not stop the others
        return _reject(source, item_uri, f"{where}: cannot read the stored bytes again "
                                         f"({type(exc).__name__}: {exc})")
    if item is None:
        return _reject(source, item_uri, f"{where}: no item {item_uri} when the stored bytes are read "
                                         "again; was it read by an older fetcher? run `wirelake run` "
                                         "to fetch it anew")
    if item.doc_id != doc_id:
        return _reject(source, item_uri,
                       f"{where}: the stored bytes rebuild doc_id {item.doc_id}, not {doc_id}")
    return item


def _from_http_document(doc_row: Mapping[str, Any], body: bytes, item_uri: str, cfg: FetchConfig,
                        fetched_at: datetime) -> Item | None:
    uri = str(doc_row["uri"])
    status = doc_row["http_status"]
    # The stored uri is the final URL after redirects, which is all either reader looks at.
    response = HttpResponse(requested_url=uri, url=uri, status=int(status) if status is not None else 200,
                            content_type=doc_row["content_type"], body=body, fetched_at=fetched_at)
    source = str(doc_row["source"])
    if item_uri == uri:
        _, item = page_document_and_item(source, response)
        return item
    if item_uri.startswith(uri + "#"):
        return _pick(items_from_feed_response(source, response, cfg, fetcher=None), item_uri)
    return None


def _from_local_document(source: str, uri: str, body: bytes, item_uri: str, cfg: FetchConfig,
                         fetched_at: datetime) -> Item | None:
    path = Path(uri)
    item = _pick(items_from_file_bytes(source, path, body, cfg, fetched_at), item_uri)
    if item is None and item_uri.startswith(uri + "#"):
        # A feed file whose extension does not say so, read because its source had kind = "feed".
        item = _pick(items_from_feed_file(source, path, cfg, body, fetched_at=fetched_at), item_uri)
    return item


def _pick(result: FetchResult, item_uri: str) -> Item | None:
    return next((item for item in result.items if item.uri == item_uri), None)


def _reject(source: str, item_uri: str, error: str) -> Reject:
    return Reject(source=source, input=item_uri, stage=STAGE, error=one_line(error))


def _as_utc(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"document fetched_at {value!r} is not a datetime")
    return as_utc(value)
