"""Resolve date expressions ("on Wednesday", "in December", "last January", "11 January 2023")
against the publication date.

Precision is lost on purpose where the text gives less than a day: a month resolves to its first
day and a bare year to 1 January, because `events.event_date` is a DATE. Durations ("more than a
century", "the past 12 months", "decades") resolve to None.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

Tense = Literal["past", "future", "unknown"]

MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
WEEKDAYS = {
    name: i
    for i, name in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
}
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b{_MONTH}\s+(?:of\s+)?(\d{{4}})\b", re.IGNORECASE)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_RELATIVE_MONTH = re.compile(rf"^(?:(last|next|this|early|late|mid|mid-)\s*)?{_MONTH}$", re.IGNORECASE)
_WEEKDAY = re.compile(
    r"^(?:(last|next|this)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)$", re.I
)
_YEAR = re.compile(r"^(?:(?:in|by|since|until|from)\s+)?(?:the\s+)?(?:year\s+)?(\d{4})$", re.IGNORECASE)
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}
# "a year ago", "two months earlier": counted back from the publication date, to the year or month
_AGO = re.compile(
    r"^(a|an|one|two|three|four|five|six|ten|\d{1,2}) (years?|months?|weeks?) (?:ago|earlier|before)$"
)
_DURATION = re.compile(
    r"\b(years?|months?|weeks?|days?|decades?|centur(?:y|ies)|hours?)\b(?!\s+(ago|earlier))", re.IGNORECASE
)


def resolve_date(expression: str, reference: date, tense: Tense = "unknown") -> date | None:
    """The calendar date an expression names, relative to `reference` (the publication date)."""
    text = re.sub(r"\s+", " ", expression.strip().strip(".,;")).lower()
    text = re.sub(r"^(on|in|at|by|during|from|since|until|the)\s+", "", text)
    for pattern, order in ((_ISO, "iso"), (_DAY_MONTH_YEAR, "dmy"), (_MONTH_DAY_YEAR, "mdy")):
        match = pattern.search(text)
        if match:
            return _explicit(match, order, reference, tense)
    match = _MONTH_YEAR.search(text)
    if match:
        return _safe_date(int(match.group(2)), MONTHS[match.group(1).lower()], 1)
    simple = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}
    if text in simple:
        return reference + timedelta(days=simple[text])
    match = _WEEKDAY.match(text)
    if match:
        return _weekday(reference, WEEKDAYS[match.group(2).lower()], match.group(1), tense)
    match = _RELATIVE_MONTH.match(text)
    if match:
        return _month(reference, MONTHS[match.group(2).lower()], (match.group(1) or "").lower(), tense)
    relative = {
        "last month": _shift_month(reference, -1),
        "this month": reference.replace(day=1),
        "next month": _shift_month(reference, 1),
        "last year": date(reference.year - 1, 1, 1),
        "this year": date(reference.year, 1, 1),
        "next year": date(reference.year + 1, 1, 1),
        "last week": reference - timedelta(days=7),
        "next week": reference + timedelta(days=7),
        "this week": reference,
    }
    if text in relative:
        return relative[text]
    match = _AGO.match(text)
    if match:
        count = NUMBER_WORDS.get(match.group(1), None) or int(match.group(1))
        if match.group(2).startswith("year"):
            return date(reference.year - count, 1, 1)
        if match.group(2).startswith("month"):
            return _shift_month(reference, -count)
        return reference - timedelta(days=7 * count)
    match = _YEAR.match(text)
    if match:
        year = int(match.group(1))
        return date(year, 1, 1) if 1000 <= year <= 2200 else None
    if _DURATION.search(text):
        return None
    return None


def _explicit(match: re.Match[str], order: str, reference: date, tense: Tense) -> date | None:
    if order == "iso":
        return _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if order == "dmy":
        day, month, year = int(match.group(1)), MONTHS[match.group(2).lower()], match.group(3)
    else:
        month, day, year = MONTHS[match.group(1).lower()], int(match.group(2)), match.group(3)
    if year:
        return _safe_date(int(year), month, day)
    candidate = _safe_date(reference.year, month, day)
    if candidate is None:
        return None
    # No year: the nearest such day, unless the tense says which side of the publication date.
    if tense == "future" and candidate < reference - timedelta(days=2):
        return _safe_date(reference.year + 1, month, day)
    if tense == "past" and candidate > reference + timedelta(days=2):
        return _safe_date(reference.year - 1, month, day)
    if tense == "unknown" and abs((candidate - reference).days) > 183:
        year = reference.year + (1 if candidate < reference else -1)
        return _safe_date(year, month, day)
    return candidate


def _weekday(reference: date, weekday: int, modifier: str | None, tense: Tense) -> date:
    modifier = (modifier or "").lower()
    ahead = (weekday - reference.weekday()) % 7
    behind = (reference.weekday() - weekday) % 7
    if modifier == "next":
        return reference + timedelta(days=ahead or 7)
    if modifier == "last":
        return reference - timedelta(days=behind or 7)
    if tense == "future":
        return reference + timedelta(days=ahead)
    if tense == "past":
        return reference - timedelta(days=behind)
    # News uses a bare weekday for the coming or the past few days; take the nearer one.
    return reference + timedelta(days=ahead) if ahead <= behind else reference - timedelta(days=behind)


def _month(reference: date, month: int, modifier: str, tense: Tense) -> date:
    this_year = date(reference.year, month, 1)
    if modifier == "last":
        return this_year if month < reference.month else date(reference.year - 1, month, 1)
    if modifier == "next":
        return this_year if month > reference.month else date(reference.year + 1, month, 1)
    if modifier == "this" or month == reference.month:
        return this_year
    if tense == "future":
        return this_year if month > reference.month else date(reference.year + 1, month, 1)
    if tense == "past":
        return this_year if month < reference.month else date(reference.year - 1, month, 1)
    # unknown: the nearest occurrence
    later = this_year if month > reference.month else date(reference.year + 1, month, 1)
    earlier = this_year if month < reference.month else date(reference.year - 1, month, 1)
    return later if (later - reference).days <= (reference - earlier).days else earlier


def _shift_month(reference: date, delta: int) -> date:
    index = reference.year * 12 + reference.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
