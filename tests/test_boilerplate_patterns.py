"""Each boilerplate pattern against the example lines written under it in the data file.

One test per pattern (parametrised from `boilerplate_patterns.txt`): its "#+" lines must be
caught by that pattern alone, and its "#-" lines (article sentences) must survive the
whole file. A pattern without an example fails, so no pattern goes in untested.
"""

from __future__ import annotations

import pytest

from flows.stages.cleaning.boilerplate import compile_pattern, is_boilerplate_line, load_pattern_entries
from flows.stages.cleaning.normalize import fold_quotes

ENTRIES = load_pattern_entries()


@pytest.mark.unit
@pytest.mark.parametrize("entry", ENTRIES, ids=[f"pattern-{e.number}" for e in ENTRIES])
def test_pattern_catches_its_examples_and_leaves_its_sentences(entry) -> None:
    assert entry.matches, f"pattern {entry.number} ({entry.pattern!r}) has no '#+' example line"
    regex = compile_pattern(entry.pattern)
    for line in entry.matches:
        bare = fold_quotes(line)
        bare = bare[1:-1] if bare[:1] == "[" and bare[-1:] == "]" else bare
        assert regex.fullmatch(bare), f"pattern {entry.number} misses its example {line!r}"
        assert is_boilerplate_line(line)
    for line in entry.leaves:
        assert not is_boilerplate_line(line), f"pattern file removes article text {line!r}"


@pytest.mark.unit
def test_patterns_see_typographic_quotes_as_ascii() -> None:
    # Stored text keeps curly quotes; the patterns are written with straight ones.
    assert is_boilerplate_line("Read more: \u201cWe\u2019re ready\u201d, says harbour master")
    assert is_boilerplate_line("Weekly \u201cNewsletter\u201d".replace("\u201c", "").replace("\u201d", ""))


@pytest.mark.unit
def test_the_file_covers_bios_and_teasers_in_several_languages() -> None:
    examples = [line for entry in ENTRIES for line in entry.matches]
    for line in ("Ana Roe is the United Kingdom correspondent for Example Defence News.",
                 "Claire Dumont est correspondante du journal à Bruxelles.",
                 "À lire aussi : Les ferries reprennent", "Mehr zum Thema", "Leia também"):
        assert line in examples
