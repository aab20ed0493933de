"""Paragraphs of plain-text files (both shapes) and repeated paragraphs within one article.

The fixture text is invented; the traps are planted: a wrap point that happens to fall at
a sentence end, a line-per-paragraph file whose lines stop mid-sentence, a paragraph
repeated verbatim and one repeated with a changed word, and a standfirst the body repeats.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.config import CleanConfig
from flows.records import Item
from flows.stages.clean import clean_items
from flows.stages.cleaning.paragraphs import (
    drop_repeated_paragraphs,
    ends_sentence,
    is_hard_wrapped,
    starts_sentence,
    text_paragraphs,
)

pytestmark = pytest.mark.unit

# One paragraph per line, no blank lines; line 4 repeats line 1; line 6 stops mid-sentence
# and continues on line 7.
LINE_PER_PARAGRAPH = """\
The ferry company said on Tuesday that the winter timetable would keep the late boat on Fridays.
Island residents had asked for the change in a petition signed by more than four hundred people.
“We listened,” the company’s director, Mara Quist, told a meeting in the village hall.
The ferry company said on Tuesday that the winter timetable would keep the late boat on Fridays.
Fares will rise by three per cent from January, the first increase in two years.
The council, which pays part of the subsidy for the route, said it would review
the contract in the spring once the new vessel has been delivered from the yard.
'Nobody wants to be stranded on the mainland,' said one commuter, Ivo Brand.
"""

# Hard-wrapped at 60 columns. Line 2 ends a sentence right at the wrap width and line 3
# starts with a capital: not a paragraph break. The short line 4 ends a paragraph.
HARD_WRAPPED = """\
The harbour board met on Monday to discuss the state of the
north pier, which engineers inspected in the autumn. Divers
Found the pilings worn through in several places along the
east side of the structure.
Repairs are expected to take most of next year and will cost
about two million, the board said in a statement issued late
in the evening after a long and at times heated meeting.
"""


def test_sentence_ends_and_starts() -> None:
    assert ends_sentence("He left.") and ends_sentence("“We listened.”") and ends_sentence("Really?)")
    assert not ends_sentence("which engineers inspected in the")
    assert starts_sentence("“We listened") and starts_sentence("'Nobody") and starts_sentence("2024 was")
    assert starts_sentence("東京で")  # scripts without case start sentences too
    assert not starts_sentence("the contract in the spring")


def test_line_per_paragraph_file_breaks_at_sentence_ends_and_joins_broken_lines() -> None:
    paragraphs = [" ".join(lines) for lines in text_paragraphs(LINE_PER_PARAGRAPH)]
    assert len(paragraphs) == 7
    assert paragraphs[5].startswith("The council, which pays") and paragraphs[5].endswith("from the yard.")
    assert not is_hard_wrapped([LINE_PER_PARAGRAPH.splitlines()])


def test_hard_wrapped_file_is_joined_even_where_a_wrap_falls_at_a_sentence_end() -> None:
    blocks = [HARD_WRAPPED.splitlines()]
    assert is_hard_wrapped(blocks)
    paragraphs = [" ".join(lines) for lines in text_paragraphs(HARD_WRAPPED)]
    assert len(paragraphs) == 2
    assert "Divers Found the pilings" in paragraphs[0]
    assert paragraphs[1].startswith("Repairs are expected")


def test_repeated_paragraph_is_kept_once_and_no_sentence_is_lost_in_a_text_item() -> None:
    item = Item(doc_id="ferry", source="isle-post", uri="mem://ferry.txt", format="text",
                content=LINE_PER_PARAGRAPH, fetched_at=datetime(2024, 1, 1, tzinfo=UTC))
    [article], _ = clean_items([item], CleanConfig())
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == 6  # seven paragraphs less the verbatim repeat
    assert article.text.count("winter timetable would keep the late boat") == 1
    for line in LINE_PER_PARAGRAPH.splitlines():
        assert line.split()[-1] in article.text  # every sentence's end survives
    assert "“We listened,” the company’s director" in article.text  # as published


def test_near_verbatim_repeat_is_dropped_and_a_different_paragraph_kept() -> None:
    first = "The harbour board approved the repair budget on Monday after a long debate in the chamber."
    near = "The harbour board approved the repair budget on Monday after a long debate in the town chamber."
    other = "The harbour board rejected the ferry budget on Friday after a short debate in the chamber."
    assert drop_repeated_paragraphs([first, near, other], 40) == [first, other]


def test_standfirst_repeated_in_the_body_is_kept_once_inside_the_body() -> None:
    standfirst = "The agreement, the first of its kind in the region, allows joint exercises."
    body = ("Negotiations began two years ago and stalled twice. The agreement, the first of its kind "
            "in the region, allows joint exercises.")
    kept = drop_repeated_paragraphs([standfirst, "Officials met on Monday to sign it in the old fort.", body], 40)
    assert kept == ["Officials met on Monday to sign it in the old fort.", body]


def test_short_paragraphs_may_repeat() -> None:
    assert drop_repeated_paragraphs(["He declined.", "He declined."], 40) == ["He declined.", "He declined."]
