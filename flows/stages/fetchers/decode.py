"""Bytes → text: charset detection and the clean-up every stored string gets.

Order of evidence (first one that decodes the bytes strictly wins):

1. a byte-order mark (the WHATWG encoding standard lets a BOM override any label,
   because a BOM is never there by accident);
2. the charset from the HTTP Content-Type header;
3. the document's own declaration (`<?xml encoding=...?>`, `<meta charset>`,
   `<meta http-equiv="Content-Type" content="...; charset=...">`);
4. UTF-8, if the bytes are valid UTF-8;
5. charset-normalizer's best guess (windows-1252 when it is as good a guess, since
   it is by far the most common legacy charset on news sites).

A declared label that does not decode the bytes (a "lying" charset) is skipped,
not obeyed. Labels are read the way browsers read them: `iso-8859-1`, `latin-1` and
`us-ascii` mean windows-1252, which is why smart quotes from such pages survive.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# Browsers treat these labels as windows-1252 (WHATWG encoding standard, "legacy
# single-byte encodings"): servers that say latin-1 almost always send cp1252.
_WINDOWS_1252_ALIASES = {"iso8859-1", "latin-1", "iso-8859-1", "ascii", "us-ascii", "latin1", "l1", "cp819"}

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_META_CHARSET_RE = re.compile(rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_CONTENT_TYPE_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.I)

# C0 controls and DEL, except tab and newline (carriage returns are normalised first).
_CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# How far into a document its own charset declaration is looked for (HTML5 says 1024
# bytes; real pages put long <head> preambles first, so look a little further).
_DECLARATION_SCAN_BYTES = 4096


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    match = _CONTENT_TYPE_CHARSET_RE.search(content_type)
    return match.group(1) if match else None


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares about itself (XML declaration or HTML meta)."""
    head = body[:_DECLARATION_SCAN_BYTES]
    for pattern in (_XML_DECL_RE, _META_CHARSET_RE):
        match = pattern.search(head)
        if match:
            return match.group(1).decode("ascii", "ignore")
    return None


def normalise_label(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when Python has no such codec."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WINDOWS_1252_ALIASES:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try_decode(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _guess_legacy_charset(body: bytes) -> tuple[str, str]:
    matches = charset_normalizer.from_bytes(body)
    best = matches.best()
    if best is None:
        # Not text in any charset we know: keep what UTF-8 can read, mark the rest.
        return body.decode("utf-8", "replace"), "utf-8"
    best_text = str(best)
    cp1252_text = _try_decode(body, "cp1252")
    if cp1252_text is not None:
        if cp1252_text == best_text:
            return cp1252_text, "cp1252"  # same text either way: name the common charset
        for match in matches:
            # Short texts often tie between cp1250/cp1252/...: prefer the common one.
            if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos + 0.01:
                return cp1252_text, "cp1252"
    return best_text, best.encoding


def decode_bytes(body: bytes, *, content_type: str | None = None) -> tuple[str, str]:
    """Decode a document's bytes; returns (text, codec name used). Never raises."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = _try_decode(body, codec)
            if text is not None:
                return text, codec
    utf8_text = _try_decode(body, "utf-8")
    for label in (charset_from_content_type(content_type), declared_charset(body)):
        codec = normalise_label(label)
        if codec is None:
            continue
        if codec == "cp1252" and utf8_text is not None and not body.isascii():
            # A page labelled latin-1 whose bytes are valid, non-ASCII UTF-8 is UTF-8
            # (server default charsets lie this way); cp1252 text is almost never valid UTF-8.
            return utf8_text, "utf-8"
        text = utf8_text if codec == "utf-8" else _try_decode(body, codec)
        if text is not None:
            return text, codec
    if utf8_text is not None:
        return utf8_text, "utf-8"
    return _guess_legacy_charset(body)


def clean_text(value: str) -> str:
    """Make a string safe to store: no NUL/C0 controls, \\n line ends, valid UTF-8."""
    if not value:
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL_CHARS_RE.sub("", value)
    # Lone surrogates (e.g. from a JSON "\\ud800" escape) cannot be encoded as UTF-8.
    return value.encode("utf-8", "replace").decode("utf-8")


def clean_optional(value: object) -> str | None:
    """clean_text for optional metadata; non-strings and blank strings become None."""
    if not isinstance(value, str):
        return None
    value = " ".join(clean_text(value).split())
    return value or None
