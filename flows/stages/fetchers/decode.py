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
Before the labels, bytes that are plainly UTF-16 without a BOM (every other byte NUL)
are read as UTF-16: no label on such a body can be right, and read as UTF-8 it would
only lose its NULs by luck.

`decode_document` also says why, whenever the charset used was not simply the declared
one (`Decoded.note`, stored as `documents.encoding_note`): a lying or unknown label, a
BOM that contradicts a label, UTF-16 without a BOM, a guess ("mojibake risk"), or text
that was already mojibake before it reached us (UTF-8 read as windows-1252 upstream).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

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

# The single-byte legacy charsets of the WHATWG encoding standard (what browsers decode), as
# Python codec names.
_WEB_SINGLE_BYTE_CHARSETS = frozenset({
    *(f"cp125{n}" for n in range(9)), *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
    "koi8-r", "koi8-u", "cp866", "mac-cyrillic", "cp874",
})
# All the legacy charsets browsers decode; charset-normalizer's guesses are limited to these
# when one fits.
_WEB_LEGACY_CHARSETS = _WEB_SINGLE_BYTE_CHARSETS | {
    "gbk", "gb18030", "big5", "big5hkscs", "euc_jp", "iso2022_jp", "shift_jis", "cp932", "euc_kr", "cp949",
}
# Single-byte charsets (one byte, one character), with a few old non-web ones a label may name.
# Any byte string decodes in most of them, so a label naming one proves nothing about the bytes:
# text in these is almost never valid, non-ASCII UTF-8 (a letter byte >= 0xC0 would need a
# continuation byte after it every time), so a body that is valid UTF-8 is read as UTF-8
# whichever of them the label names.
_SINGLE_BYTE_CHARSETS = _WEB_SINGLE_BYTE_CHARSETS | {"mac-roman", "cp437", "cp850"}

# UTF-16 without a BOM: markup and Latin text put a NUL in every other byte. These shares
# (of the 2-byte units in the first _DECLARATION_SCAN_BYTES) tell it from UTF-8, where NULs
# are stray, and from binary junk, where NULs fall on both sides.
_UTF16_NUL_SHARE = 0.3
_UTF16_OTHER_SIDE_NUL_SHARE = 0.02

# windows-1252's reading of the bytes 0x80-0xBF (UTF-8 continuation bytes); the five bytes
# cp1252 leaves undefined read as the C1 control with the same number, as browsers do.
_CONTINUATION_CHARS = {bytes([b]).decode("cp1252", "ignore") or chr(b): b for b in range(0x80, 0xC0)}
_CONT = "[" + re.escape("".join(_CONTINUATION_CHARS)) + "]"
# One UTF-8 multi-byte character read as windows-1252 ("Ã©" for "é", "â€™" for "’").
# Looked for in the first _MOJIBAKE_SCAN_CHARS only: mojibake made upstream is all through a
# document, and a full scan of a large feed costs tens of milliseconds.
_MOJIBAKE_SCAN_CHARS = 200_000
_DOUBLE_ENCODED_RE = re.compile(
    f"[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}}"
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A document's text, the codec that decoded it, and why, when it was not simply the declared one."""

    text: str
    codec: str  # a Python codec name (what `Item.encoding` holds)
    note: str | None = None  # one line for `documents.encoding_note`; None when nothing needs saying

    @property
    def charset(self) -> str:
        """The charset's common label (what `documents.encoding` holds)."""
        return charset_label(self.codec)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    match = _CONTENT_TYPE_CHARSET_RE.search(content_type)
    return match.group(1) if match else None


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares about itself (XML declaration or HTML meta)."""
    found = _declared_charset_and_where(body)
    return found[0] if found else None


def _declared_charset_and_where(body: bytes) -> tuple[str, str] | None:
    head = body[:_DECLARATION_SCAN_BYTES]
    for pattern, where in ((_XML_DECL_RE, "in the XML declaration"), (_META_CHARSET_RE, "in a <meta> tag")):
        match = pattern.search(head)
        if match:
            return match.group(1).decode("ascii", "ignore"), where
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


def charset_label(codec: str) -> str:
    """The common (WHATWG/IANA) label for a Python codec: cp1252 → windows-1252, utf_16_le → utf-16le.

    A UTF-8 BOM is not part of the charset (`utf-8-sig` → `utf-8`); a note says when the BOM mattered.
    """
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return codec.strip().lower()
    if name == "utf-8-sig":
        return "utf-8"
    if re.fullmatch(r"cp125\d", name):
        return "windows-" + name[2:]
    if re.fullmatch(r"iso8859-\d+", name):
        return "iso-" + name[3:]
    if re.fullmatch(r"utf-(16|32)-(le|be)", name):
        return name[:6] + name[7:]
    return name


def charset_family(label: str | None) -> str | None:
    """Labels that read bytes the same way share a family: latin-1/us-ascii/windows-1252 (as
    browsers read them), utf-8 with or without BOM, utf-16 of either byte order."""
    if not label:
        return None
    name = charset_label(normalise_label(label) or label)
    return name[:6] if name.startswith(("utf-16", "utf-32")) else name


def _try_decode(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_web_charset(codec: str) -> bool:
    try:
        return codecs.lookup(codec).name in _WEB_LEGACY_CHARSETS
    except LookupError:
        return False


def _guess_legacy_charset(body: bytes) -> tuple[str, str]:
    matches = charset_normalizer.from_bytes(body)
    # Only a charset a browser would use: a few smart quotes in ASCII text fit mac-latin2 or a
    # DOS code page "best", and no news site has served either.
    best = next((m for m in matches if _is_web_charset(m.encoding)), None) or matches.best()
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
    decoded = decode_document(body, content_type=content_type)
    return decoded.text, decoded.codec


def decode_document(body: bytes, *, content_type: str | None = None) -> Decoded:
    """Decode a document's bytes and say why, when the charset was not simply the declared one."""
    decoded = _decide(body, content_type)
    notes = [decoded.note]
    sample = _double_encoded_sample(decoded.text[:_MOJIBAKE_SCAN_CHARS])
    if sample is not None:
        notes.append(f"the text holds UTF-8 read as windows-1252 before it reached us (e.g. {sample!r}; "
                     "mojibake risk)")
    controls = _control_chars_note(decoded.text)
    if controls is not None:
        notes.append(controls)
    if len(notes) == 1:
        return decoded
    return Decoded(decoded.text, decoded.codec, _join(*notes))


def _control_chars_note(text: str) -> str | None:
    """Say which NUL/C0 control characters the text holds: `clean_text` removes them from every
    stored string, and a reader of the stored text should know that something was taken out."""
    found = _CONTROL_CHARS_RE.findall(text)
    if not found:
        return None
    kinds = ", ".join(f"U+{ord(c):04X}" for c in sorted(set(found))[:5])
    more = "" if len(set(found)) <= 5 else ", ..."
    return f"{len(found)} NUL/control character(s) ({kinds}{more}) removed from the stored text"


def _decide(body: bytes, content_type: str | None) -> Decoded:
    header = charset_from_content_type(content_type)
    labels = [(header, "in Content-Type")] if header else []
    in_document = _declared_charset_and_where(body)
    if in_document:
        labels.append(in_document)
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = _try_decode(body, codec)
            if text is not None:
                return Decoded(text, codec, _bom_note(codec, labels))
    utf16 = _utf16_without_bom(body)
    if utf16 is not None:
        return _utf16_decoded(*utf16, labels)
    utf8_text = _try_decode(body, "utf-8")
    failed: list[str] = []  # the labels that did not decode the bytes, as note fragments
    tried: set[str] = set()
    for label, where in labels:
        codec = normalise_label(label)
        if codec is None:
            failed.append(f"declared charset {label!r} {where} is unknown")
            continue
        if codec in tried:
            continue
        tried.add(codec)
        if codec in _SINGLE_BYTE_CHARSETS and utf8_text is not None and not body.isascii():
            # A page labelled latin-1 (or koi8-r, ...) whose bytes are valid, non-ASCII UTF-8 is
            # UTF-8: server default charsets lie this way, and single-byte text almost never is.
            valid = f"declared {label} {where} but the body is valid UTF-8"
            return Decoded(utf8_text, "utf-8", _join(*failed, valid))
        text = utf8_text if codec == "utf-8" else _try_decode(body, codec)
        if text is not None:
            used = f"decoded as {charset_label(codec)}, as declared {where}"
            return Decoded(text, codec, _join(*failed, used) if failed else None)
        failed.append(f"declared {label} {where} but not valid {_display(codec)}")
    if utf8_text is not None:
        return Decoded(utf8_text, "utf-8", _join(*failed, "decoded as utf-8") if failed else None)
    text, codec = _guess_legacy_charset(body)
    why = _join(*failed) or "no charset declared and not valid UTF-8"
    if codec == "utf-8":  # no charset reads it: UTF-8 with replacement characters
        return Decoded(text, codec, f"{why}; not text in any known charset, decoded as utf-8 with "
                                    "replacement characters (mojibake risk)")
    return Decoded(text, codec, f"{why}; decoded as {charset_label(codec)} (guessed; mojibake risk)")


def _utf16_decoded(text: str, codec: str, labels: list[tuple[str, str]]) -> Decoded:
    if any(charset_family(label) == "utf-16" for label, _ in labels):
        return Decoded(text, codec)  # declared UTF-16: only the BOM is missing; the NULs give the order
    said = "; ".join(f"declared {label} {where}" for label, where in labels)
    return Decoded(text, codec, _join(f"UTF-16 without BOM detected ({charset_label(codec)})", said))


def _utf16_without_bom(body: bytes) -> tuple[str, str] | None:
    """(text, codec) when the bytes are plainly UTF-16 without a BOM, else None."""
    sample = body[:_DECLARATION_SCAN_BYTES]
    if len(body) % 2 or len(sample) < 8:
        return None
    units = len(sample) // 2
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    for codec, nuls, other in (("utf-16-le", odd_nuls, even_nuls), ("utf-16-be", even_nuls, odd_nuls)):
        if nuls >= units * _UTF16_NUL_SHARE and other <= units * _UTF16_OTHER_SIDE_NUL_SHARE:
            text = _try_decode(body, codec)
            return (text, codec) if text is not None else None
    return None


def _bom_note(codec: str, labels: list[tuple[str, str]]) -> str | None:
    family = charset_family(codec)
    contradicted = [f"{label} {where}" for label, where in labels
                    if charset_family(label) not in (family, None)]
    if not contradicted:
        return None
    return f"BOM {charset_label(codec)} contradicts the charset declared " + " and ".join(contradicted)


def _double_encoded_sample(text: str) -> str | None:
    """A run of characters that is UTF-8 read as windows-1252 ("â€™", "Ã©"), or None.

    One three- or four-character run is telling on its own; a two-character one can be real
    text ("Ø»"), so those count only when two or more are found.
    """
    pairs: list[str] = []
    for match in _DOUBLE_ENCODED_RE.finditer(text):
        run = match.group(0)
        raw = bytes([ord(run[0])]) + bytes(_CONTINUATION_CHARS[c] for c in run[1:])
        if _try_decode(raw, "utf-8") is None:  # the lead byte's length and range rules do not hold
            continue
        if len(run) > 2:
            return run
        pairs.append(run)
        if len(pairs) == 2:
            return pairs[0]
    return None


def _display(codec: str) -> str:
    label = charset_label(codec)
    return label.upper() if label.startswith("utf") else label


def _join(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return "; ".join(kept) if kept else None


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
