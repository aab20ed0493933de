"""Boilerplate removal: lines matching reviewed patterns, and lines a source repeats.

Patterns live in `boilerplate_patterns.txt` beside this file so they can be reviewed
without reading code. Both rules only ever remove *short* lines (at most
`MAX_BOILERPLATE_WORDS` words); article paragraphs are longer than a sign-up prompt.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from flows.config import CleanConfig
from flows.stages.cleaning.normalize import fold_quotes

# A line longer than this is article text, whatever it says.
MAX_BOILERPLATE_WORDS = 30
# Punctuation and decoration that may trail a boilerplate prompt ("Read more »", "Advertisement:").
_TRAILER = r"[\s.!:;>»›|\-–—]*"
_PATTERN_FILE = "boilerplate_patterns.txt"


@dataclass(frozen=True)
class PatternEntry:
    """One pattern of the file with the example lines written under it."""

    number: int  # 1-based, in file order
    pattern: str
    matches: tuple[str, ...]  # "#+ " lines: boilerplate the pattern must catch
    leaves: tuple[str, ...]  # "#- " lines: article text the file must leave alone


def load_pattern_entries() -> list[PatternEntry]:
    """The pattern file's patterns, in file order, each with its examples."""
    text = resources.files(__package__).joinpath(_PATTERN_FILE).read_text(encoding="utf-8")
    entries: list[tuple[str, list[str], list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#+ ", "#- ")) and entries:
            entries[-1][1 if stripped.startswith("#+") else 2].append(stripped[3:].strip())
        elif stripped and not stripped.startswith("#"):
            entries.append((stripped, [], []))
    return [PatternEntry(number, pattern, tuple(matches), tuple(leaves))
            for number, (pattern, matches, leaves) in enumerate(entries, 1)]


def load_boilerplate_patterns() -> list[str]:
    """The regexes of the pattern file, in file order, without comments or examples."""
    return [entry.pattern for entry in load_pattern_entries()]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """One pattern as the file applies it: whole line, any case, trailing decoration allowed."""
    return re.compile(rf"(?:{pattern}){_TRAILER}", re.IGNORECASE)


@cache
def _boilerplate_regex() -> re.Pattern[str]:
    # One alternation is much faster than testing forty patterns in turn.
    patterns = load_boilerplate_patterns()
    for number, pattern in enumerate(patterns, 1):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"{_PATTERN_FILE}: pattern {number} ({pattern!r}) is not a regex: {exc}; fix or remove it"
            ) from exc
    alternation = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?:{alternation}){_TRAILER}", re.IGNORECASE)


def is_boilerplate_line(line: str) -> bool:
    """True when a whole short line is a prompt, notice or credit from the pattern file."""
    if len(line.split()) > MAX_BOILERPLATE_WORDS:
        return False
    # Text keeps its published quotes; the patterns are written with ASCII ones.
    line = fold_quotes(line)
    regex = _boilerplate_regex()
    if regex.fullmatch(line) is not None:
        return True
    # "[Related: ...]": a teaser in brackets is still a teaser.
    return line[:1] in "[(" and line[-1:] in "])" and regex.fullmatch(line[1:-1].strip()) is not None


def recurring_keys(articles_keys: Sequence[Iterable[str]], cfg: CleanConfig) -> set[str]:
    """Fingerprints of the short lines that one source repeats across its articles.

    `articles_keys` holds each article's line fingerprints (`fingerprint_text`), all from the
    same source. A short line is boilerplate when it occurs in at least
    `cfg.recurring_line_min_articles` articles and in at least `cfg.recurring_line_min_share`
    of them.

    Articles are counted by *story*, not by copy: articles that share a long line (more
    than MAX_BOILERPLATE_WORDS words) are grouped and counted once. Otherwise three
    copies or revisions of one story in a batch would have their short paragraphs taken
    for boilerplate and cut out.
    """
    if len(articles_keys) < cfg.recurring_line_min_articles:
        return set()
    parent = list(range(len(articles_keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_holder_of_long_line: dict[str, int] = {}
    short_keys_per_article: list[set[str]] = []
    for index, keys in enumerate(articles_keys):
        short_keys: set[str] = set()
        for key in keys:
            if not key:
                continue
            if len(key.split()) > MAX_BOILERPLATE_WORDS:
                holder = first_holder_of_long_line.setdefault(key, index)
                if holder != index:
                    parent[root(index)] = root(holder)
            else:
                short_keys.add(key)
        short_keys_per_article.append(short_keys)

    keys_per_story: dict[int, set[str]] = {}
    for index, keys in enumerate(short_keys_per_article):
        keys_per_story.setdefault(root(index), set()).update(keys)
    story_count = len(keys_per_story)
    counts = Counter(key for keys in keys_per_story.values() for key in keys)
    return {
        key
        for key, count in counts.items()
        if count >= cfg.recurring_line_min_articles and count / story_count >= cfg.recurring_line_min_share
    }
