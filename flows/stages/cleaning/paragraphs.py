"""Paragraphs of a plain-text file, and repeated paragraphs within one article.

A `.txt` file marks paragraphs in one of two ways, and which one is decided per file from
its own line lengths (`is_hard_wrapped`):

* *hard-wrapped*: lines cut at a fixed width (most within 70% of the longest, which is
  at most 120 characters), mostly mid-sentence; the lines of a blank-line
  block are one paragraph, except after a line that ends a sentence well short of the
  width (the last line of a paragraph) when the next line starts one;
* *one paragraph per line* (or a free mix): a line that ends a sentence followed by a
  line that starts one is a paragraph break, with or without a blank line between; a line
  that stops mid-sentence continues on the next.

Repeats (`drop_repeated_paragraphs`): a paragraph whose words are those of an earlier one
(verbatim, or nearly: the same word set but for a few words) is layout, not content,
and is kept the first time only. A paragraph whose whole text is found inside a longer
paragraph (a standfirst or pull quote that the body repeats) is kept once, in the longer
paragraph, so no sentence is lost.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from flows.stages.cleaning.normalize import fingerprint_text, normalize_line, normalize_whitespace

# A line ends a sentence: closing punctuation, then optional closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019\u00bb\u203a)\]]*$")
# Opening quotes, brackets and dashes that may come before a sentence's first letter.
_OPENERS = "\"'\u201c\u2018\u201e\u00ab\u2039([-\u2013\u2014\u2022*"
# A file is hard-wrapped when at least this share of the lines inside its paragraphs
# (every line but a block's last) are within this share of the wrap width...
WRAPPED_LINE_SHARE = 0.8
WRAPPED_WIDTH_SHARE = 0.7
# ...the width being no more than this (one-paragraph-per-line files have far longer lines)...
MAX_WRAP_WIDTH = 120
# ...and fewer than this share of them ending a sentence: a wrap falls mid-sentence by
# chance most of the time, while a file of short one-line paragraphs ends nearly every line.
MAX_WRAPPED_SENTENCE_END_SHARE = 0.5
# ...judged on at least this many such lines; fewer say nothing about the file's shape.
MIN_LINES_TO_JUDGE = 4
# Near-verbatim repeats: paragraphs of at least this many words whose word sets overlap
# at least this much (Jaccard). Short paragraphs repeat by chance ("He declined to comment.").
NEAR_REPEAT_MIN_WORDS = 8
NEAR_REPEAT_JACCARD = 0.9


def ends_sentence(line: str) -> bool:
    return _SENTENCE_END.search(line) is not None


def starts_sentence(line: str) -> bool:
    """The line's first letter or digit, after opening quotes, is not lower case."""
    for char in line:
        if char in _OPENERS or char.isspace():
            continue
        return char.isdigit() or (char.isalpha() and not char.islower())
    return False


def is_hard_wrapped(blocks: Sequence[Sequence[str]]) -> bool:
    """True when the lines inside `blocks` (blank-line blocks of lines) are cut at one width."""
    lines = [line for block in blocks for line in block[:-1]]
    if len(lines) < MIN_LINES_TO_JUDGE:
        return False
    width = max(len(line) for line in lines)
    if width > MAX_WRAP_WIDTH:
        return False
    near_width = sum(1 for line in lines if len(line) >= WRAPPED_WIDTH_SHARE * width)
    sentence_ends = sum(1 for line in lines if ends_sentence(line))
    return (near_width >= WRAPPED_LINE_SHARE * len(lines)
            and sentence_ends < MAX_WRAPPED_SENTENCE_END_SHARE * len(lines))


def text_paragraphs(text: str) -> list[list[str]]:
    """The paragraphs of a plain-text article, each as the list of its lines."""
    blocks = _blocks(text)
    wrapped = is_hard_wrapped(blocks)
    width = max((len(line) for block in blocks for line in block), default=0)
    paragraphs: list[list[str]] = []
    for block in blocks:
        current = [block[0]]
        for previous, line in zip(block, block[1:], strict=False):
            breaks = ends_sentence(previous) and starts_sentence(line)
            if wrapped:
                # At the wrap width a sentence may end by chance; a paragraph's last line is short.
                breaks = breaks and len(previous) < WRAPPED_WIDTH_SHARE * width
            if breaks:
                paragraphs.append(current)
                current = []
            current.append(line)
        paragraphs.append(current)
    return paragraphs


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for raw_line in normalize_whitespace(text).split("\n"):
        line = normalize_line(raw_line)
        if line:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def drop_repeated_paragraphs(paragraphs: list[str], min_chars: int,
                             known_keys: dict[str, str] | None = None) -> list[str]:
    """`paragraphs` without verbatim, near-verbatim and contained repeats (see module doc).

    Paragraphs shorter than `min_chars` are never dropped: short lines repeat by chance.
    `known_keys` maps text to its `fingerprint_text` where the caller already has it.
    """
    known = known_keys or {}
    keys = [(known.get(p) or fingerprint_text(p)) if len(p) >= min_chars else "" for p in paragraphs]
    # One C-level count per paragraph finds the rare verbatim or contained repeat; the pairs
    # are looked at only then (a page has dozens of paragraphs, this stage thousands of pages).
    joined = "\x00".join(keys)
    word_sets: list[frozenset[str]] = []
    # Earlier kept paragraphs by word-set size: a near repeat's size is within 10% of its
    # original's, so only those few sizes are compared.
    by_size: dict[int, list[int]] = {}
    dropped = [False] * len(paragraphs)
    for index, key in enumerate(keys):
        words = frozenset(key.split())
        word_sets.append(words)
        if not key:
            continue
        if joined.count(key) > 1:
            dropped[index] = any(
                not dropped[other] and (
                    (other < index and keys[other] == key) or (len(keys[other]) > len(key) and key in keys[other]))
                for other in range(len(keys)) if other != index)
        if not dropped[index] and len(words) >= NEAR_REPEAT_MIN_WORDS:
            size = len(words)
            sizes = range(math.ceil(size * NEAR_REPEAT_JACCARD), math.floor(size / NEAR_REPEAT_JACCARD) + 1)
            dropped[index] = any(_same_words(words, word_sets[other])
                                 for near in sizes for other in by_size.get(near, ()))
            if not dropped[index]:
                by_size.setdefault(size, []).append(index)
    return [p for p, drop in zip(paragraphs, dropped, strict=True) if not drop]


def _same_words(a: frozenset[str], b: frozenset[str]) -> bool:
    """Near-verbatim: Jaccard of the word sets at least NEAR_REPEAT_JACCARD (sizes first: cheap)."""
    small, large = sorted((len(a), len(b)))
    if small < NEAR_REPEAT_MIN_WORDS or small < NEAR_REPEAT_JACCARD * large:
        return False
    return len(a & b) >= NEAR_REPEAT_JACCARD * len(a | b)
