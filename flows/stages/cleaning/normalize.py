"""Unicode and typography normalisation, and the fingerprint form used for hashing.

Two forms of the same text:

* the *display* form kept in `Article.text`: NFC, curly quotes and guillemets as ASCII
  quotes, exotic spaces as plain spaces, invisible characters dropped, runs of spaces
  collapsed. Dashes and the ellipsis are kept as written, because an en dash in
  "2019–2021" or an em dash in a quote is meaning a reader wants to see.
* the *fingerprint* form: the display form case-folded, every dash as "-" with no space
  around it, "…" as "...", all whitespace (paragraph breaks too) as one space. Copies of a
  story that differ only in typography, case or layout share this form, hence their
  `content_hash`.
"""

from __future__ import annotations

import re
import unicodedata

_TYPOGRAPHY = str.maketrans(
    {
        # Single quotes and apostrophes.
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        # Double quotes and guillemets.
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
        # Spaces that look like a space.
        "\u00a0": " ", "\u1680": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ",
        "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ",
        "\u2008": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ",
        "\u3000": " ", "\t": " ", "\f": " ", "\v": " ",
        # Invisible characters that only break word matching.
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None,
        "\ufeff": None,
        # Unicode line/paragraph separators.
        "\u2028": "\n", "\u2029": "\n\n", "\x85": "\n",
    }
)
_FINGERPRINT_PUNCTUATION = str.maketrans(
    {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
     "\u2212": "-", "\u2026": "..."}
)
# str.translate with a dict is slow on non-ASCII text; a regex that finds the few
# characters to change (usually none) and maps each is several times faster.
_TYPOGRAPHY_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in _TYPOGRAPHY) + "]")
_FINGERPRINT_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in _FINGERPRINT_PUNCTUATION) + "]")
_SPACES = re.compile(r" {2,}")
_ASCII_ODD_SPACES = re.compile(r"[\t\f\v]")


def normalize_typography(text: str) -> str:
    """NFC, ASCII quotes, plain spaces, unified newlines. Keeps line structure."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        # Fast path (most English news): str.translate with a dict is slow, and only
        # tabs and form feeds can need changing.
        return _ASCII_ODD_SPACES.sub(" ", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _TYPOGRAPHY_CHARS.sub(lambda m: _TYPOGRAPHY[ord(m.group())] or "", text)


def normalize_line(line: str) -> str:
    """One line of already typography-normalised text, with its spaces collapsed."""
    return _SPACES.sub(" ", line).strip()


def split_paragraphs(text: str) -> list[list[str]]:
    """Paragraphs (blank-line separated) as lists of their non-empty, normalised lines."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for raw_line in normalize_typography(text).split("\n"):
        line = normalize_line(raw_line)
        if line:
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def fingerprint_text(text: str) -> str:
    """The comparison form: what two copies of one text have in common (see module doc)."""
    text = normalize_typography(text).casefold()
    if not text.isascii():
        text = _FINGERPRINT_CHARS.sub(lambda m: _FINGERPRINT_PUNCTUATION[ord(m.group())], text)
    # After the split/join only single spaces remain, so plain replaces remove every
    # space around a dash ("2019 - 2021" and "2019–2021" become "2019-2021").
    text = " ".join(text.split())
    if "-" in text:
        text = text.replace(" -", "-").replace("- ", "-")
    return text


def count_words(text: str) -> int:
    return len(text.split())
