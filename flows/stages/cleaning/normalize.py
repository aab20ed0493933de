"""Unicode and whitespace normalisation, and the fingerprint form used for matching and hashing.

Two forms of the same text:

* the *display* form kept in `Article.text`: the text as published. Curly quotes,
  guillemets, apostrophes, dashes, ellipses and accents stay as written (NFC, so one
  accented letter is one code point); only whitespace and control characters change:
  exotic spaces become plain spaces, invisible format characters (soft hyphen, zero-width
  space/joiners, BOM) and C0/C1 controls are dropped, line separators become newlines and
  runs of spaces collapse.
* the *fingerprint* form, computed from the display form for matching, dedup and hashing:
  case-folded, typographic quotes and guillemets as ASCII quotes, every dash as "-" with no
  space around it, "…" as "...", all whitespace (paragraph breaks too) as one space. Copies
  of a story that differ only in typography, case or layout share this form, hence their
  `content_hash`.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROLS = {c: None for c in [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F, *range(0x80, 0x85),
                                  *range(0x86, 0xA0)]}
_WHITESPACE = str.maketrans(
    {
        # Spaces that look like a space.
        "\u00a0": " ", "\u1680": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ",
        "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ",
        "\u2008": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ",
        "\u3000": " ", "\t": " ", "\f": " ", "\v": " ",
        # Invisible format characters that only break word matching.
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None,
        "\ufeff": None,
        # Unicode line/paragraph separators.
        "\u2028": "\n", "\u2029": "\n\n", "\x85": "\n",
        **_CONTROLS,
    }
)
# Quotes as ASCII: the fingerprint's view only, never the stored text.
_QUOTES = {
    # Single quotes and apostrophes.
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u2039": "'", "\u203a": "'",
    # Double quotes and guillemets.
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
}
_FINGERPRINT_PUNCTUATION = str.maketrans(
    {**_QUOTES, "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
     "\u2212": "-", "\u2026": "..."}
)
# str.translate with a dict is slow on non-ASCII text; a regex that finds the few
# characters to change (usually none) and maps each is several times faster.
_WHITESPACE_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in _WHITESPACE) + "]")
_QUOTE_CHARS = re.compile("[" + "".join(map(re.escape, _QUOTES)) + "]")
_FINGERPRINT_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in _FINGERPRINT_PUNCTUATION) + "]")
_SPACES = re.compile(r" {2,}")
_ASCII_ODD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_whitespace(text: str) -> str:
    """NFC, plain spaces, unified newlines, no control characters; every printed character
    (quotes, dashes, accents) kept as written. Keeps line structure."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        # Fast path (most English news): str.translate with a dict is slow, and only
        # tabs, form feeds and other C0 controls can need changing.
        return _ASCII_ODD.sub(_ascii_odd, text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _WHITESPACE_CHARS.sub(lambda m: _WHITESPACE[ord(m.group())] or "", text)


def _ascii_odd(match: re.Match[str]) -> str:
    return " " if match.group() in "\t\f\v" else ""


def fold_quotes(text: str) -> str:
    """`text` with typographic quotes and guillemets as ASCII ones, for pattern matching."""
    return text if text.isascii() else _QUOTE_CHARS.sub(lambda m: _QUOTES[m.group()], text)


def normalize_line(line: str) -> str:
    """One line of already whitespace-normalised text, with its spaces collapsed."""
    return _SPACES.sub(" ", line).strip()


def fingerprint_text(text: str) -> str:
    """The comparison form: what two copies of one text have in common (see module doc)."""
    text = normalize_whitespace(text).casefold()
    if not text.isascii():
        text = _FINGERPRINT_CHARS.sub(lambda m: _FINGERPRINT_PUNCTUATION[ord(m.group())], text)
    # After the split/join only single spaces remain, so plain replaces remove every
    # space around a dash ("2019 - 2021" and "2019–2021" become "2019-2021").
    text = " ".join(text.split())
    if "-" in text:
        text = text.replace(" -", "-").replace("- ", "-")
    return text


# Scripts written without spaces between words: Han, kana, Hangul, Thai.
_UNSPACED = re.compile("[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Characters per word in those scripts (Chinese and Japanese words average about two).
UNSPACED_CHARS_PER_WORD = 2


def count_words(text: str) -> int:
    """Whitespace-separated words, plus one word per two characters of unspaced scripts
    (a Japanese paragraph is one "word" to str.split)."""
    words = len(text.split())
    if text.isascii():
        return words
    return words + len(_UNSPACED.findall(text)) // UNSPACED_CHARS_PER_WORD
