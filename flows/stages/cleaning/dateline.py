"""Wire-style datelines at the start of an article ("LONDON (Reuters) -", "Tokyo, Jan 11 (AP) -").

A dateline is accepted only in one of two shapes, so that ordinary sentence starts are
left alone:

* an upper-case place of at least three letters, optionally with a qualifier
  (", Calif."), a date (", Jan 11") and an agency ("(Reuters)"), then a dash;
* a capitalised place ("Tokyo") only when a date or an agency follows it: a bare
  "Washington -" is too likely to be part of a sentence.

The dash must be an en/em dash, or a hyphen with space on both sides ("US-China ..."
is not a dateline), and the text after it must start like a sentence (capital letter,
digit or quote). Words that open a story in capitals without being places
("BREAKING", "ANALYSIS") are not datelines.
"""

from __future__ import annotations

import re
from functools import cache

NOT_PLACES = frozenset(
    {
        "BREAKING", "UPDATE", "UPDATED", "EXCLUSIVE", "ANALYSIS", "OPINION", "COMMENT", "WATCH",
        "LIVE", "FACTBOX", "EXPLAINER", "CORRECTION", "CORRECTED", "REFILE", "URGENT", "FLASH",
        "EDITORIAL", "REVIEW", "INTERVIEW", "NEWS", "SPORT", "SPORTS", "VIDEO", "PHOTOS",
    }
)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\.?"
_DATE = rf",?\s+{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?"
_AGENCY = r"\((?:[A-Z][A-Za-z&.' -]{0,30})\)"
_QUALIFIER = r"(?:,\s+[A-Z][A-Za-z.]+(?:\s[A-Z][A-Za-z.]+){0,2})?"
_CAPS_PLACE = r"[A-Z][A-Z.']*(?:[ -][A-Z][A-Z.']*){0,3}"
_MIXED_PLACE = r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,3}"
_DASH = r"(?:\s+-{1,2}\s+|\s*[\u2013\u2014]\s*)"


@cache
def _dateline_regex() -> re.Pattern[str]:
    return re.compile(
        rf"""
        (?:
            (?P<caps>{_CAPS_PLACE}{_QUALIFIER})(?:{_DATE})?\s*(?:{_AGENCY})?
          | (?P<mixed>{_MIXED_PLACE}{_QUALIFIER})(?:{_DATE}\s*(?:{_AGENCY})?|\s*{_AGENCY})
        )
        {_DASH}
        (?=["'(]?[A-Z0-9])
        """,
        re.VERBOSE,
    )


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """(place, rest of the paragraph) when it opens with a dateline, else (None, paragraph)."""
    match = _dateline_regex().match(paragraph[:120])
    if match is None:
        return None, paragraph
    place = (match.group("caps") or match.group("mixed")).strip()
    place_name = place.split(",")[0].strip()
    # "US - China talks" and "EU - " are sentences, not datelines: too short to be a place.
    if place_name.upper() in NOT_PLACES or sum(ch.isalpha() for ch in place_name) < 3:
        return None, paragraph
    return place, paragraph[match.end() :]
