"""Records passed between the pipeline's stages.

These are the contracts between stages: fetch produces `RawDocument`s (what was
read, byte for byte) and `Item`s (units of text to clean), clean turns items into
`Article`s, dedup fills the duplicate fields, extract reads articles. Any stage
may produce `Reject`s. Plain dataclasses keep the core free of Prefect and cheap
to build in bulk; `warehouse.store` turns lists of them into Arrow tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ItemFormat = Literal["html", "text"]


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def content_key(*parts: str | None) -> str:
    """A short stable key from content: the same inputs give the same id in every run."""
    joined = "\x1f".join(p or "" for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:24]


@dataclass(slots=True)
class Source:
    """One configured input: a local folder/file, a feed URL or a page URL."""

    name: str
    location: str  # a filesystem path or an http(s) URL
    kind: Literal["auto", "local", "feed", "page"] = "auto"


@dataclass(slots=True)
class RawDocument:
    """Bytes exactly as read; `body` goes to the content-addressed raw store."""

    doc_id: str  # content_key(uri, sha256)
    source: str
    uri: str
    fetched_at: datetime
    http_status: int | None
    content_type: str | None
    sha256: str
    bytes: int
    body: bytes = field(repr=False, default=b"")
    # How the bytes were read as text (documents.encoding / encoding_note / parse_warning):
    encoding: str | None = None  # the charset's label, e.g. utf-8, windows-1252, utf-16le
    encoding_note: str | None = None  # why, when it was not simply the declared charset
    parse_warning: str | None = None  # a feed's feedparser bozo, "ClassName: message"


@dataclass(slots=True)
class Item:
    """One article-to-be: decoded text or HTML plus whatever metadata came with it."""

    doc_id: str
    source: str
    uri: str  # where this item was read (file path, feed URL#entry, page URL)
    format: ItemFormat
    content: str
    fetched_at: datetime
    url: str | None = None  # the article's own URL when known
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    encoding: str | None = None  # the charset the bytes were decoded with


@dataclass(slots=True)
class Article:
    article_id: str  # content_key(canonical url or uri, content_hash)
    doc_id: str
    source: str
    url: str | None
    title: str | None
    author: str | None
    published_at: datetime | None
    language: str | None
    dateline: str | None
    text: str
    word_count: int
    content_hash: str  # sha256 of the normalised text
    fetched_at: datetime
    site_name: str | None = None
    canonical_url: str | None = None
    item_uri: str | None = None  # where the item was read: file, file#L7, feed#entry, page URL
    duplicate_of: str | None = None
    near_duplicate_of: str | None = None
    similarity: float | None = None
    # The persons named as authors, in page order; `author` is them joined with "; ".
    authors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Reject:
    source: str
    input: str  # the path or URL that failed
    stage: str  # fetch | clean | dedup | extract | load | validate | reprocess
    error: str  # one line that names the input and, where known, the fix


@dataclass
class StageCount:
    """One stage's rows in, out and rejected (with named extras), as the run summary records them.

    Each stage's result type builds its own with `.counts(rows_in)`; the run adds the seconds.
    """

    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"in": self.rows_in, "out": self.rows_out, "rejected": self.rejected,
                "seconds": round(self.seconds, 3), **self.extra}
