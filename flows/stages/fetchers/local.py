"""Local files and folders: .txt, .html/.htm, .json/.jsonl records, and feed files.

A folder is walked recursively in sorted order (so runs are reproducible), hidden
files and folders are skipped, unknown extensions are ignored, and a symlink that
points outside the source root is refused: a sources file should not be able to
pull in arbitrary files from elsewhere on the machine.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from flows.config import FetchConfig
from flows.records import Item, RawDocument, content_key, sha256_hex
from flows.stages.fetchers.base import (
    ArticleSource,
    FetchResult,
    html_title_hint,
    make_document,
    parse_datetime,
    read_local_file,
)
from flows.stages.fetchers.decode import clean_optional, clean_text, decode_document
from flows.stages.fetchers.feed import is_feed_file, items_from_feed_file
from flows.stages.fetchers.http import FetchError

TEXT_SUFFIXES = frozenset({".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
RECORD_SUFFIXES = frozenset({".json", ".jsonl"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf"})
KNOWN_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | FEED_SUFFIXES

# A first line longer than this is a paragraph, not a headline.
_TITLE_MAX_CHARS = 150
_TITLE_MAX_WORDS = 25
_RECORD_TEXT_FIELDS = ("text", "content", "body")
_RECORD_DATE_FIELDS = ("published", "published_at", "date")


def split_title(text: str) -> tuple[str | None, str]:
    """(title, body) of a plain-text article whose first line may be its headline.

    The first line is a title when it is short, does not end like a sentence or a
    wrapped line, and a body follows it. Without a blank line after it, the next
    line must start like a new sentence (a hard-wrapped paragraph continues in
    lower case).
    """
    lines = text.strip("\n").split("\n")
    first = lines[0].strip()
    rest_lines = lines[1:]
    body = "\n".join(rest_lines).strip("\n")
    if (
        not first
        or not body.strip()
        or len(first) > _TITLE_MAX_CHARS
        or len(first.split()) > _TITLE_MAX_WORDS
        or first.endswith((".", ",", ";", ":", "-"))
    ):
        return None, text.strip("\n")
    next_line = rest_lines[0].strip()
    if next_line and not (next_line[0].isupper() or next_line[0].isdigit() or next_line[0] in "\"'“‘("):
        return None, text.strip("\n")
    return first, body.strip("\n")


def _now() -> datetime:
    return datetime.now(UTC)


class LocalSource(ArticleSource):
    """A local folder (walked recursively) or a single file."""

    def __init__(self, name: str, location: str, cfg: FetchConfig,
                 stored_documents: frozenset[str] = frozenset()):
        self.name = name
        self.location = location
        self.cfg = cfg
        # A file whose (path, bytes) the warehouse already holds was fully processed by the run
        # that stored it; `wirelake reprocess` is how stored documents are read again.
        self.stored_documents = stored_documents

    def fetch(self) -> FetchResult:
        result = FetchResult()
        # Absolute, so item and document URIs (and hence doc_ids) do not depend on the working directory.
        root = Path(os.path.normpath(Path(self.location).expanduser().absolute()))
        if not root.exists():
            result.reject(self.name, self.location, f"source {self.name}: path {root} does not exist")
            return result
        if root.is_dir():
            root_real = root.resolve()
            self._walk(root, root_real, {root_real}, result)
        elif root.is_file():
            self._read_file(root, result, named_explicitly=True)
        else:
            result.reject(self.name, self.location, f"source {self.name}: {root} is not a file or folder")
        return result

    def _walk(self, directory: Path, root_real: Path, visited: set[Path], result: FetchResult) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            result.reject(
                self.name, str(directory), f"folder {directory}: cannot list ({exc.strerror or exc})"
            )
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue  # hidden: editor swap files, .git, .DS_Store
            path = Path(entry.path)
            if entry.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    result.reject(self.name, str(path), f"file {path}: broken symlink")
                    continue
                if not target.is_relative_to(root_real):
                    result.reject(
                        self.name,
                        str(path),
                        f"file {path}: symlink points outside the source root ({target}); refused",
                    )
                    continue
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                continue
            if is_dir:
                real = path.resolve()
                if real not in visited:  # symlinked folders inside the root could loop
                    visited.add(real)
                    self._walk(path, root_real, visited, result)
            elif is_file:
                self._read_file(path, result, named_explicitly=False)

    def _read_file(self, path: Path, result: FetchResult, *, named_explicitly: bool) -> None:
        suffix = path.suffix.lower()
        if suffix not in KNOWN_SUFFIXES:
            if named_explicitly:
                result.reject(
                    self.name,
                    str(path),
                    f"file {path}: unsupported file type '{suffix or '(none)'}'; "
                    f"expected one of {', '.join(sorted(KNOWN_SUFFIXES))}",
                )
            return  # inside a folder, unknown files (images, notes) are simply not articles
        try:
            body = read_local_file(path, self.cfg.max_file_bytes)
        except FetchError as exc:
            result.reject(self.name, str(path), str(exc))
            return
        if content_key(str(path), sha256_hex(body)) in self.stored_documents:
            result.unchanged += 1
            return
        result.extend(items_from_file_bytes(self.name, path, body, self.cfg, _now()))


def items_from_file_bytes(source: str, path: Path, body: bytes, cfg: FetchConfig,
                          fetched_at: datetime) -> FetchResult:
    """The document and items of one local file's bytes, read as `LocalSource` reads them.

    No disk access beyond `body`: `reprocess` calls this with the raw store's copy of the
    bytes (and the stored `fetched_at`) to rebuild exactly the items the fetch made.
    """
    result = FetchResult()
    suffix = path.suffix.lower()
    if suffix in FEED_SUFFIXES or (suffix == ".json" and is_feed_file(path, body)):
        return items_from_feed_file(source, path, cfg, body, fetched_at=fetched_at)
    decoded = decode_document(body)
    encoding = decoded.codec
    document = make_document(
        source=source,
        uri=str(path),
        body=body,
        fetched_at=fetched_at,
        http_status=None,
        content_type=mimetypes.guess_type(path.name)[0],
        encoding=encoding,
        encoding_note=decoded.note,
    )
    text = clean_text(decoded.text)
    if suffix in RECORD_SUFFIXES:
        items = _record_items(source, path, document, text, encoding, suffix, result)
    elif not text.strip():
        result.reject(source, str(path), f"file {path}: no text after decoding ({encoding})")
        return result
    elif suffix in HTML_SUFFIXES:
        items = [_item(source, document, str(path), "html", text, encoding, title=html_title_hint(text))]
    else:
        title, content = split_title(text)
        items = [_item(source, document, str(path), "text", content, encoding, title=title,
                       published_at=date_from_filename(path.name))]
    if items:
        result.documents.append(document)
        result.items.extend(items)
    return result


def _item(
    source: str,
    document: RawDocument,
    uri: str,
    item_format: str,
    content: str,
    encoding: str,
    *,
    title: str | None = None,
    url: str | None = None,
    author: str | None = None,
    published_at: datetime | None = None,
) -> Item:
    return Item(
        doc_id=document.doc_id,
        source=source,
        uri=uri,
        format="html" if item_format == "html" else "text",
        content=content,
        fetched_at=document.fetched_at,
        url=url,
        title=clean_optional(title),
        author=clean_optional(author),
        published_at=published_at,
        encoding=encoding,
    )


def _record_items(
    source: str, path: Path, document: RawDocument, text: str, encoding: str, suffix: str, result: FetchResult
) -> list[Item]:
    """One item per record; a bad record is a reject naming file:line, the rest still load."""
    records: list[tuple[str, str, object]] = []  # (where for errors, item uri, record)
    if suffix == ".jsonl":
        for line_number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                records.append((where, f"{path}#L{line_number}", json.loads(line)))
            except ValueError as exc:
                result.reject(source, where, f"file {where}: not valid JSON ({exc})")
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            result.reject(source, str(path), f"file {path}: not valid JSON ({exc})")
            return []
        if isinstance(data, list):
            records = [(f"{path}:[{i}]", f"{path}#{i}", record) for i, record in enumerate(data)]
        else:
            records = [(str(path), str(path), data)]
    items = []
    for where, uri, record in records:
        item = _record_item(source, where, uri, document, record, encoding, result)
        if item is not None:
            items.append(item)
    return items


def _record_item(
    source: str,
    where: str,
    uri: str,
    document: RawDocument,
    record: object,
    encoding: str,
    result: FetchResult,
) -> Item | None:
    if not isinstance(record, dict):
        result.reject(source, where, f"file {where}: expected a JSON object, got {type(record).__name__}")
        return None
    content = next(
        (record[f] for f in _RECORD_TEXT_FIELDS if isinstance(record.get(f), str) and record[f].strip()),
        None,
    )
    if content is None:
        result.reject(
            source, where, f"file {where}: record has no 'text' (or 'content'/'body') string; skipped"
        )
        return None
    published_raw = next((record[f] for f in _RECORD_DATE_FIELDS if record.get(f)), None)
    url = record.get("url")
    return _item(
        source,
        document,
        uri,  # records have no address of their own: the file plus the line or index names one
        "html" if record.get("format") == "html" else "text",
        clean_text(content),
        encoding,
        title=record.get("title") if isinstance(record.get("title"), str) else None,
        url=clean_optional(url) if isinstance(url, str) else None,
        author=record.get("author") if isinstance(record.get("author"), str) else None,
        published_at=parse_datetime(published_raw),
    )


_FILENAME_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?=[-_. ])")


def date_from_filename(name: str) -> datetime | None:
    """A plain-text article has no metadata; "2023-01-11-title.txt" dates it (midnight UTC)."""
    match = _FILENAME_DATE.match(name)
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups()), tzinfo=UTC)
    except ValueError:
        return None
