"""Data Docs that work offline: no CDN, no external request, styles and status icons kept.

GX's pages load Bootstrap, bootstrap-table, jQuery, vega and Font Awesome from CDNs and its
logo from S3, so offline the index has no styles, no rows and no icons. The views in
`data_docs` load three templates from `offline/` before GX's own (tables rendered on the
server, no script imports) and pass each page through `offline_html`, which drops every
external stylesheet, script, image and link and inlines `offline/docs.css`: our stylesheet for the
classes the pages use, with the status icons as text glyphs.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

OFFLINE_DIR = Path(__file__).resolve().parent / "offline"

_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>\s*", re.I)
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>\s*", re.I)
_EXTERNAL_IMG = re.compile(r"<img\b[^>]*\bsrc=[\"']https?://[^>]*>", re.I)
_EXTERNAL_ANCHOR = re.compile(r"<a\b[^>]*\bhref=[\"']https?://[^>]*>", re.I)
_HEAD_END = re.compile(r"</head>", re.I)


@functools.cache
def offline_css() -> str:
    return (OFFLINE_DIR / "docs.css").read_text(encoding="utf-8")


def offline_html(page: str) -> str:
    """The page with no external stylesheet, script or image, and the offline styles inlined."""
    page = _EXTERNAL_LINK.sub("", page)
    page = _EXTERNAL_SCRIPT.sub("", page)
    page = _EXTERNAL_ANCHOR.sub("<a>", page)  # GX's site and newsletter: text stays, no way out
    page = _EXTERNAL_IMG.sub('<span class="wl-brand">wirelake · Data Docs</span>', page)
    if "wl-offline-styles" not in page:
        style = f'<style id="wl-offline-styles">{offline_css()}</style>\n'
        page = _HEAD_END.sub(lambda _: style + "</head>", page, count=1)
    return page
