"""Direct quotes and who said them.

Quote spans come from paired quotation marks (“…”, "…", ‘…’), including a quote that runs over
several paragraphs (each continuing paragraph opens with a quotation mark and the earlier ones are
left open). The speaker is found, in this order, in:
  “…,” said Mr X / “…,” X said / “…,” according to X   (after the quote, same sentence)
  X said: “…” / X, a fellow at Y, described the deal as “…” / X’s office called it “…”   (before it)
  “…,” he said                                         (the last person named before)
and an unattributed quote paragraph right after a quoted paragraph continues the same speaker.
Short scare quotes (fewer than four words, no speech verb next to them) are not quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.stages.extract.entities import ArticleAnalysis, Mention
from flows.stages.extract.patterns import SPEECH_VERB

_AFTER_SPEECH = re.compile(
    r"^[\s,.]*(?:(?:he|she|they)\s+)?(said|says|added|adds|told|tells|wrote|writes|warned|explained|continued|"
    r"insisted|noted|argued|stressed|according to|asked|replied|declared|announced)\b",
    re.IGNORECASE,
)
_PRONOUN_AFTER = re.compile(
    r"^[\s,.]*(he|she)\s+(said|says|added|told|wrote|warned|explained|continued)\b", re.I
)
_BEFORE_SPEECH = re.compile(
    r"\b(said|says|told|tells|added|adds|wrote|writes|warned|explained|insisted|noted|argued|stressed|"
    r"declared|announced|described|calls?|called|called it|according to|quoted|promising|promised|pledged|"
    r"vowed)\b[^“\"‘”.!?]{0,150}$|:\s*$",
    re.IGNORECASE,
)
_APPOSITIVE_GAP = re.compile(r",\s*$")
_MIN_WORDS = 4


@dataclass(slots=True)
class Quote:
    start: int  # of the quoted words, inside the marks
    end: int
    text: str
    speaker: Mention | None = None
    paragraph: int = 0


def quote_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end, paragraph index) of each quoted passage, marks excluded."""
    spans: list[tuple[int, int, int]] = []
    paragraphs = _paragraphs(text)
    open_from: int | None = None  # a curly quote still open at the end of the previous paragraph
    for p_index, (p_start, p_end) in enumerate(paragraphs):
        para = text[p_start:p_end]
        if open_from is not None and not para.lstrip().startswith(("“", '"')):
            open_from = None
        pos = 0
        while pos < len(para):
            ch = para[pos]
            if ch in '“"':
                close_char = "”" if ch == "“" else '"'
                close = para.find(close_char, pos + 1)
                if ch == "“" and close == -1:
                    close = para.find('"', pos + 1)
                if close == -1:
                    # Open to the paragraph's end: a quote continued in the next paragraph.
                    spans.append((p_start + pos + 1, p_end, p_index))
                    open_from = p_start + pos
                    break
                spans.append((p_start + pos + 1, p_start + close, p_index))
                pos = close + 1
                continue
            if ch == "‘" and (pos == 0 or not para[pos - 1].isalnum()):
                close = _closing_single(para, pos + 1)
                if close != -1:
                    spans.append((p_start + pos + 1, p_start + close, p_index))
                    pos = close + 1
                    continue
            pos += 1
    return [(s, _rstrip(text, s, e), p) for s, e, p in spans if e > s]


def _closing_single(para: str, start: int) -> int:
    """A ’ that closes a ‘ quote is followed by a non-letter (an apostrophe in Britain’s is not)."""
    pos = start
    while True:
        pos = para.find("’", pos)
        if pos == -1:
            return -1
        if pos + 1 >= len(para) or not para[pos + 1].isalpha():
            return pos
        pos += 1


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _paragraphs(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def extract_quotes(analysis: ArticleAnalysis) -> list[Quote]:
    text = analysis.text
    quotes: list[Quote] = []
    previous: Quote | None = None
    spans = quote_spans(text)
    previous_end = 0
    for start, end, paragraph in spans:
        if analysis.in_boilerplate(start, end):
            continue
        words = text[start:end].split()
        if all(w[:1].isupper() or not w[:1].isalpha() for w in words):
            previous_end = end
            continue  # a name in quotation marks ("Global Combat Air Programme"), not speech
        mark_end = end + 1 if end < len(text) and text[end] in '”"’' else end
        after = text[mark_end : mark_end + 90].split("\n")[0]
        sentence_index = analysis.sentence_index_at(start - 1)
        s_start, _ = analysis.sentences[sentence_index] if analysis.sentences else (0, len(text))
        line_start = text.rfind("\n", 0, start) + 1
        # never look back into another quote: its words are not the attribution of this one
        before_start = max(s_start, line_start, start - 250, previous_end + 1 if previous_end else 0)
        before = text[before_start : max(before_start, start - 1)]
        attributed = bool(_AFTER_SPEECH.match(after) or _BEFORE_SPEECH.search(before))
        previous_end = end
        if len(words) < _MIN_WORDS and not attributed:
            continue
        quote = Quote(start, end, text[start:end], None, paragraph)
        quote.speaker = _speaker(analysis, quote, mark_end, after, before_start, before)
        if quote.speaker is None and previous is not None and previous.speaker is not None:
            opens_paragraph = not text[line_start : start - 1].strip()
            same_paragraph = paragraph == previous.paragraph
            if (opens_paragraph and paragraph - previous.paragraph <= 1 or same_paragraph) and not attributed:
                quote.speaker = previous.speaker  # the same speaker goes on
        quotes.append(quote)
        previous = quote
    return quotes


def _speaker(
    analysis: ArticleAnalysis, quote: Quote, mark_end: int, after: str, before_start: int, before: str
):
    mentions = analysis.mentions
    speech_after = _AFTER_SPEECH.match(after)
    if speech_after:
        window_end = mark_end + speech_after.end() + 60
        if _PRONOUN_AFTER.match(after):
            return _last_person_before(mentions, quote.start)
        verb_end = mark_end + speech_after.end()
        if speech_after.group(1).lower() == "according to":
            return _first_speaker(m for m in mentions if verb_end <= m.start < window_end)
        # "…,” said Mr X, a fellow at Y": the name right after the verb, not a later one in the clause
        adjacent = [m for m in mentions if verb_end <= m.start <= verb_end + 25]
        speaker = _first_speaker(adjacent[:1]) if adjacent else None
        return speaker or _first_speaker(m for m in mentions if mark_end <= m.start < window_end)
    name_first = re.match(
        r"^[\s,]*(?:[A-Z][\w.’'-]*\s*){1,4},?\s+(said|says|added|told|wrote|warned)\b", after
    )
    if name_first:
        candidates = [m for m in mentions if mark_end <= m.start < mark_end + name_first.end()]
        return _first_speaker(candidates)
    before_match = _BEFORE_SPEECH.search(before)
    if before_match and before_match.group(1) and before_match.group(1).lower() == "according to":
        # "According to X, a researcher at Y, the agreement “…”": the name after "according to"
        after_verb = before_start + before_match.end(1)
        speaker = _first_speaker(m for m in mentions if after_verb <= m.start < quote.start)
        if speaker is not None:
            return speaker
    elif before_match:
        verb_pos = before_start + before_match.start()
        speaker = _subject_before(analysis, before_start, verb_pos)
        if speaker is not None:
            return speaker
        if re.match(
            r"\s*(he|she)\b", before[before_match.start() - 4 : before_match.start()] or "", re.I
        ) or re.search(r"\b(he|she)\s+$", before[: before_match.start()], re.I):
            return _last_person_before(mentions, quote.start)
    according = re.search(r"according to\s+$", before) or re.match(r"^[^.]{0,80}according to\b", after)
    if according:
        return _first_speaker(m for m in mentions if m.start >= mark_end and m.start < mark_end + 120)
    return None


def _subject_before(analysis: ArticleAnalysis, start: int, verb_pos: int) -> Mention | None:
    """The subject of the speech verb: the words between the last comma and the verb, or, when a comma
    comes right before the verb (an appositive: "X, a fellow at Y, said"), the phrase before that."""
    text = analysis.text
    region = text[start:verb_pos]
    commas = [m.end() for m in re.finditer(r",", region)]
    segments, last = [], 0
    for cut in commas:
        segments.append((start + last, start + cut))
        last = cut
    segments.append((start + last, verb_pos))
    mentions = analysis.mentions
    if text[segments[-1][0] : segments[-1][1]].strip():
        s_start, s_end = segments[-1]
        return _first_speaker(m for m in mentions if s_start <= m.start and m.end <= s_end)
    for s_start, s_end in reversed(segments[:-2] if len(segments) >= 3 else segments[:-1]):
        speaker = _first_speaker(m for m in mentions if s_start <= m.start and m.end <= s_end)
        if speaker is not None:
            return speaker
    return None


def _first_speaker(candidates) -> Mention | None:
    """A person first; otherwise an organisation or a government (a state, or a capital acting as one)."""
    candidates = list(candidates)
    for m in candidates:
        if m.entity.type == "PERSON":
            return m
    for m in candidates:
        if m.entity.type == "ORG" or m.entity.is_state:
            return m
    return None


def _last_person_before(mentions: list[Mention], pos: int) -> Mention | None:
    people = [m for m in mentions if m.entity.type == "PERSON" and m.end <= pos]
    return people[-1] if people else None


__all__ = ["Quote", "extract_quotes", "quote_spans", "SPEECH_VERB"]
