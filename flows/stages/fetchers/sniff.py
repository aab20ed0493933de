"""What a body is, judged from its first bytes (servers mislabel feeds and pages)."""

from __future__ import annotations

import codecs
import json
import re
from typing import Literal

BodyKind = Literal["xml-feed", "json-feed", "json", "html", "xml", "text", "binary", "empty"]

_SNIFF_BYTES = 8192
_FEED_ROOTS = {"rss", "feed", "rdf:rdf", "rdf"}
_HTML_ROOTS = {"html", "head", "body", "div", "p", "title", "meta", "script", "table"}
# Prolog parts that may come before the root element: XML declaration and processing
# instructions, comments, a DOCTYPE (without an internal subset).
_PROLOG_RE = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype[^>\[]*(?:\[.*?\])?\s*>)", re.I | re.S)
_ROOT_RE = re.compile(r"\s*<([A-Za-z_][\w:.-]*)")
_HTML_DOCTYPE_RE = re.compile(r"<!doctype\s+html", re.I)
JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/1"


def _head_text(body: bytes) -> str:
    head = body[:_SNIFF_BYTES]
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return head.decode(codec, "ignore").lstrip("\ufeff")
    # Every ASCII-compatible charset agrees on the markup characters we look for.
    return head.decode("latin-1")


def is_json_feed(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("version"), str)
        and data["version"].startswith(JSON_FEED_VERSION_PREFIX)
    )


def sniff_body(body: bytes) -> BodyKind:
    head = _head_text(body)
    stripped = head.lstrip()
    if not stripped:
        return "empty"
    if stripped[0] in "{[":
        try:
            data = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            return "text"
        return "json-feed" if is_json_feed(data) else "json"
    if stripped[0] == "<":
        if _HTML_DOCTYPE_RE.search(stripped[:1024]):
            return "html"
        position = 0
        while match := _PROLOG_RE.match(stripped, position):
            if match.end() == position:
                break
            position = match.end()
        root = _ROOT_RE.match(stripped, position)
        if root:
            name = root.group(1).lower()
            if name in _FEED_ROOTS:
                return "xml-feed"
            if name in _HTML_ROOTS:
                return "html"
        return "xml"
    if "\x00" in head[:512]:
        return "binary"
    return "text"
