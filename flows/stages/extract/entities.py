"""From NER spans to canonical entity mentions.

Two passes over the run's articles: the first collects every multi-word person name
(so name order and surname-only mentions can be settled with the whole run, and
the warehouse's prior entities, in view); the second resolves each span to one
canonical `EntityRef`: states through the gazetteer (names, demonyms, capitals
that act as governments), organisations and places through the gazetteer or their
own cleaned text, people through `people.PersonIndex`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from flows.records import Article
from flows.stages.extract.gazetteer import EntityRef, Gazetteer, alias_key
from flows.stages.extract.nlp import NerResult, NerSpan
from flows.stages.extract.people import PersonIndex, PersonName, clean_person_span

# A capital is a place after these words ("talks in London", "a visit to Tokyo")...
_PLACE_BEFORE = re.compile(
    r"\b(in|at|to|from|near|outside|inside|around|across|into|via|of|toward|towards|visit|visited|visiting|"
    r"visits|left|leave|leaving|reached|arrived|streets of)\s+(the\s+)?$",
    re.IGNORECASE,
)
# ...and the government it hosts when it acts: "London called it", "Beijing poses", "with Tokyo".
_GOVERNMENT_AFTER = re.compile(
    r"^(['’]s\s+(government|position|stance|decision|response|policy|approach|refusal|demand|demands|"
    r"offer|proposal|plan|plans|objections?|concerns?))|^,?\s+(has|have|had|is|was|were|will|would|could|"
    r"should|may|might|must|can|cannot|did|does|do|said|says|say|called|calls|accused|accuses|agreed|agrees|"
    r"signed|signs|warned|warns|wants|wanted|rejected|rejects|insisted|insists|urged|urges|announced|"
    r"announces|responded|plans|planned|hopes|hoped|sees|saw|considers|believes|argued|argues|denied|denies|"
    r"claimed|claims|condemned|condemns|welcomed|welcomes|protested|demanded|demands|expects|expected|"
    r"recalled|summoned|imposed|pledged|pledges|vowed|vows|threatened|threatens|approved|opposes|opposed|"
    r"supports|supported|backed|backs|poses|posed|responded|retaliated|insisted|regards|views|"
    r"is\s+attempting|is\s+seeking|seeks|sought|joined|joins|hit\s+back|reached|concluded|struck|sealed|"
    r"inked|clinched|negotiated|ratified)\b",
    re.IGNORECASE,
)
_GOVERNMENT_BEFORE = re.compile(
    r"\b(between|with|by|told|urged|pressed|accused|warned|against)\s+$", re.IGNORECASE
)
_DATELINE = re.compile(r"^\s*[—–-]")
# Capitalised names ending in a word that only organisations end in ("Harbour Grid", "Nordlys Energy").
_ORG_BY_SUFFIX = re.compile(
    r"\b((?:[A-Z][\w&'’-]+\s+){1,3}(?:Energy|Grid|Group|Holdings|Bank|Airlines|Airways|Motors|Corporation|"
    r"Corp|Inc|Ltd|plc|PLC|Systems|Technologies|Partners|Capital|Petroleum|Mining|Telecom|Pharmaceuticals|"
    r"Industries|Electric|Steel|Shipping|Logistics|Insurance|Resources|Ventures|Networks|Aerospace|"
    r"Semiconductors?|Institute|University|Foundation|Forum|Party))\b"
)
_NOT_NAME_START = frozenset(
    {
        "The",
        "A",
        "An",
        "This",
        "That",
        "Its",
        "Their",
        "Our",
        "In",
        "On",
        "At",
        "For",
        "Under",
        "After",
        "With",
        "By",
        "From",
        "But",
        "And",
    }
)
_CAPITALISED_WORD = re.compile(r"(?<![\w-])[A-Z][\w'’]*(?:-[A-Z][\w'’]*)?(?![\w-])")
_ROYAL_TITLES = frozenset({"king", "queen", "prince", "princess", "emperor", "empress", "pope"})


@dataclass(slots=True)
class Mention:
    start: int
    end: int
    text: str
    label: str  # the spaCy label; for spans found by the gazetteer or the surname scan, the entity's type
    sentence_index: int
    entity: EntityRef
    government: bool = False  # a capital or seat of government standing for its state


@dataclass(slots=True)
class ArticleAnalysis:
    article: Article
    sentences: list[tuple[int, int]]
    mentions: list[Mention]
    dates: list[NerSpan]
    boilerplate: list[tuple[int, int]]
    _sentence_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sentence_starts = [start for start, _ in self.sentences]

    @property
    def text(self) -> str:
        return self.article.text

    def sentence_index_at(self, pos: int) -> int:
        return max(0, bisect_right(self._sentence_starts, pos) - 1)

    def in_boilerplate(self, start: int, end: int) -> bool:
        return any(b_start <= start and end <= b_end for b_start, b_end in self.boilerplate)

    def sentence_mentions(self, index: int) -> list[Mention]:
        return [m for m in self.mentions if m.sentence_index == index]


@dataclass(slots=True)
class _Candidate:
    start: int
    end: int
    label: str
    from_gazetteer: bool = False
    person: PersonName | None = None


def boilerplate_lines(text: str, gaz: Gazetteer) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and gaz.boilerplate is not None and gaz.boilerplate.search(stripped):
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


class EntityResolver:
    """Resolves the spans of a whole run, using prior entities for names seen in earlier runs."""

    def __init__(self, gaz: Gazetteer, prior_entities: list[EntityRef] | None = None):
        self.gaz = gaz
        # agreement names and short names seen in the run: their spans are LAW, never ORG
        self.agreement_names: set[str] = set()
        self.people = PersonIndex(gaz, [e for e in (prior_entities or []) if e.type == "PERSON"])
        # Non-person names seen before keep the type they were first stored with, so ids stay stable.
        self.known_names: dict[str, EntityRef] = {
            alias_key(e.name): e for e in (prior_entities or []) if e.type != "PERSON"
        }
        self._candidates: list[list[_Candidate]] = []

    # -- pass 1 -------------------------------------------------------------------------------------
    def collect(self, article: Article, ner: NerResult) -> list[tuple[int, int]]:
        """Record the article's candidate spans and full person names; returns its boilerplate lines."""
        text = article.text
        boiler = boilerplate_lines(text, self.gaz)
        candidates = self._candidate_spans(text, ner.entities, boiler)
        for cand in candidates:
            if cand.label == "PERSON":
                cand.person = clean_person_span(text, cand.start, cand.end, self.gaz)
                if cand.person is not None and len(cand.person.tokens) >= 2:
                    self.people.add_full_name(cand.person.tokens, article.article_id)
                elif cand.person is not None:
                    self.people.add_single_word(cand.person.tokens[0])
            elif " " not in text[cand.start : cand.end]:
                self.people.add_single_word(text[cand.start : cand.end])
        self._candidates.append(candidates)
        return boiler

    def _candidate_spans(
        self, text: str, ents: list[NerSpan], boiler: list[tuple[int, int]]
    ) -> list[_Candidate]:
        found: list[_Candidate] = []
        if self.gaz.text_pattern is not None:
            for match in self.gaz.text_pattern.finditer(text):
                found.append(_Candidate(match.start(), match.end(), "ORG", from_gazetteer=True))
        organisations = [
            (m.start(1), m.end(1))
            for m in _ORG_BY_SUFFIX.finditer(text)
            if m.group(1).split()[0] not in _NOT_NAME_START
        ]
        for ent in ents:
            if any(c.start < ent.end and ent.start < c.end for c in found if c.from_gazetteer):
                continue  # the gazetteer's span is the better one ("Group of Seven", a full treaty name)
            label = ent.label
            if label in ("PERSON", "GPE") and any(
                o_start <= ent.start and ent.end <= o_end + 2 for o_start, o_end in organisations
            ):
                label = "ORG"  # "Harbour Grid" is a company, whatever NER says
            found.append(_Candidate(ent.start, ent.end, label))
        for o_start, o_end in organisations:
            if not any(c.start < o_end and o_start < c.end for c in found):
                found.append(_Candidate(o_start, o_end, "ORG"))  # a company name NER missed
        found = [piece for cand in found for piece in self._split_state_pairs(text, cand)]
        kept = []
        for cand in found:
            if any(b_start <= cand.start and cand.end <= b_end for b_start, b_end in boiler):
                continue
            start, end = _strip_span(text, cand.start, cand.end)
            if end <= start:
                continue
            cand.start, cand.end = start, end
            kept.append(cand)
        return sorted(kept, key=lambda c: c.start)

    def _split_state_pairs(self, text: str, cand: _Candidate) -> list[_Candidate]:
        """'U.S.-Japan' or 'Japan–Australia' tagged as one span is two states."""
        surface = text[cand.start : cand.end]
        parts = [(m.start(), m.end()) for m in re.finditer(r"[^-–—/]+", surface)]
        if len(parts) < 2 or cand.label not in ("GPE", "NORP", "ORG", "LOC"):
            return [cand]
        refs = [
            self.gaz.lookup(surface[a:b]) or self.gaz.by_demonym.get(surface[a:b].casefold())
            for a, b in parts
        ]
        if not all(ref is not None and ref.is_state for ref in refs):
            return [cand]
        return [_Candidate(cand.start + a, cand.start + b, "GPE") for a, b in parts]

    # -- pass 2 -------------------------------------------------------------------------------------
    def resolve(
        self, index: int, article: Article, ner: NerResult, boiler: list[tuple[int, int]]
    ) -> ArticleAnalysis:
        self.people.finalise()
        text = article.text
        analysis = ArticleAnalysis(article, ner.sentences, [], ner.dates, boiler)
        article_people = self.people.article_index(article.article_id)
        mentions: list[Mention] = []
        for cand in self._candidates[index]:
            surface = text[cand.start : cand.end]
            sentence_index = analysis.sentence_index_at(cand.start)
            if cand.label == "PERSON":
                mentions.extend(self._person_mentions(cand, text, sentence_index, article_people))
                continue
            # A surname that NER labelled ORG or GPE ("Sunak" as ORG, "Ms Dubois" as GPE) is still the person.
            person_start, word = _after_title(text, cand.start, cand.end, self.gaz)
            if (
                " " not in word
                and self.gaz.lookup(word) is None
                and alias_key(word) not in self.gaz.government_seat
            ):
                person = article_people.resolve_single(word) or self.people.resolve_single_in_run(word)
                if person is not None:
                    mentions.append(
                        Mention(
                            person_start,
                            cand.end,
                            text[person_start : cand.end],
                            cand.label,
                            sentence_index,
                            person,
                        )
                    )
                    continue
            if (
                cand.label == "ORG"
                and " " not in surface
                and re.match(r"\s+(Secretary|Minister)\b", text[cand.end : cand.end + 12])
            ):
                continue  # "Energy Secretary": part of a title, not an organisation
            resolved = self._resolve_non_person(text, cand, surface)
            if resolved is not None:
                ref, government = resolved
                label = ref.type if cand.from_gazetteer else cand.label  # a spaCy label either way
                mentions.append(
                    Mention(cand.start, cand.end, surface, label, sentence_index, ref, government)
                )
        mentions.extend(self._missed_surnames(text, mentions, analysis, article_people))
        mentions.sort(key=lambda m: (m.start, m.end))
        _short_organisation_names(mentions)
        _mark_coordinated_governments(text, mentions, self.gaz)
        analysis.mentions = mentions
        return analysis

    def _person_mentions(
        self, cand: _Candidate, text: str, sentence_index: int, article_people
    ) -> list[Mention]:
        name = cand.person
        if name is None:
            return []
        if len(name.tokens) == 1:
            ref = article_people.resolve_single(name.tokens[0]) or self.people.resolve_single_in_run(
                name.tokens[0]
            )
            if ref is None and name.title is not None:
                if name.title in _ROYAL_TITLES:
                    ref = EntityRef(f"{name.title.title()} {name.tokens[0]}", "PERSON", kind="person")
                else:
                    ref = EntityRef(name.tokens[0], "PERSON", kind="person")
            if ref is None:
                return []  # a lone word nobody in the run is called: more often a mislabelled place
            return [Mention(name.start, name.end, text[name.start : name.end], "PERSON", sentence_index, ref)]
        glued = article_people.split_glued(name)
        if glued is not None:
            return [
                Mention(start, end, text[start:end], "PERSON", sentence_index, ref)
                for start, end, ref in glued
            ]
        ref = self.people.canonical(name.tokens)
        if ref is None:
            return []
        return [Mention(name.start, name.end, text[name.start : name.end], "PERSON", sentence_index, ref)]

    def _resolve_non_person(self, text: str, cand: _Candidate, surface: str) -> tuple[EntityRef, bool] | None:
        gaz = self.gaz
        key = alias_key(surface)
        if not key or not any(ch.isalpha() for ch in key):
            return None
        if key in gaz.government_seat and cand.label in ("GPE", "ORG", "LOC", "FAC", "PERSON"):
            if capital_acts_as_government(text, cand.start, cand.end):
                return gaz.government_seat[key], True
            return gaz.capital_place[key], False
        if cand.label == "NORP" or key in gaz.by_demonym:
            state = gaz.by_demonym.get(key) or gaz.by_demonym.get(key.rstrip("s"))
            if state is not None:
                return state, False
            if key in gaz.generic_norp:
                return None
        ref = gaz.lookup(surface)
        if ref is not None and ref.type != "PERSON":
            return ref, False
        if key in self.agreement_names:
            return EntityRef(_clean_name(surface), "LAW"), False
        known = self.known_names.get(key)
        if known is not None:
            return known, False
        if not surface[:1].isupper() and not surface[:1].isdigit():
            return None  # lower-case spans ("the ministry of defence") are descriptions, not names
        name = _clean_name(surface)
        label = "EVENT" if re.match(r"(Exercise|Operation)\s+[A-Z]", name) else cand.label
        ref = EntityRef(name, label, kind=None)
        self.known_names[key] = ref
        return ref, False

    def _missed_surnames(self, text, mentions, analysis, article_people) -> list[Mention]:
        """Surname-only mentions of the article's (or the run's) people that NER did not tag
        ("…,” said Kishida"; "Dubois told reporters" in an article that never gives her full name)."""
        surnames = article_people.surnames() | self.people.run_surnames(self.gaz)
        if not surnames:
            return []
        taken = [(m.start, m.end) for m in mentions]
        extra = []
        # one pass over capitalised words with set lookups: cheap however many people the run has
        for match in _CAPITALISED_WORD.finditer(text):
            if match.group(0).casefold() not in surnames:
                continue
            start, end = match.start(), match.end()
            if any(s < end and start < e for s, e in taken) or analysis.in_boilerplate(start, end):
                continue
            ref = article_people.resolve_single(match.group(0)) or self.people.resolve_single_in_run(
                match.group(0)
            )
            if ref is not None and ref.type == "PERSON":
                extra.append(
                    Mention(start, end, match.group(0), "PERSON", analysis.sentence_index_at(start), ref)
                )
        return extra


def capital_acts_as_government(text: str, start: int, end: int) -> bool:
    """'London called it…', 'London and Tokyo agreed', 'talks with Beijing' → the government."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - 40) : start]
    after = text[end : end + 60]
    if not before.strip() and _DATELINE.match(after):
        return False  # "LONDON — …" is a dateline: where the report was filed
    if _PLACE_BEFORE.search(before):
        return False
    if _GOVERNMENT_AFTER.match(after) or _GOVERNMENT_BEFORE.search(before):
        return True
    # "London and Tokyo agreed": the coordination decides through the verb after the second name.
    coordinated = re.match(r"^\s+and\s+[A-Z][\w-]+(\s+[A-Z][\w-]+)?", after)
    return bool(coordinated and _GOVERNMENT_AFTER.match(after[coordinated.end() :]))


def _mark_coordinated_governments(text: str, mentions: list[Mention], gaz: Gazetteer) -> None:
    """'between Tokyo and Manila': a capital joined by 'and' to a government is one too."""
    for left, right in zip(mentions, mentions[1:], strict=False):
        gap = text[left.end : right.start]
        if gap.strip() not in ("and", ",", "or"):
            continue
        for a, b in ((left, right), (right, left)):
            key = alias_key(b.text)
            if a.government and not b.government and key in gaz.government_seat:
                b.entity, b.government = gaz.government_seat[key], True


def _after_title(text: str, start: int, end: int, gaz: Gazetteer) -> tuple[int, str]:
    """(start, word) of a span once a leading personal title is dropped ("Ms Dubois" → "Dubois")."""
    surface = text[start:end]
    for title in ("mr", "mrs", "ms", "dr", "miss", "prof", "sir", "dame"):
        match = re.match(rf"^{title}\.?\s+", surface, re.IGNORECASE)
        if match:
            return start + match.end(), surface[match.end() :]
    return start, surface


def _short_organisation_names(mentions: list[Mention]) -> None:
    """'Nordlys' after 'Nordlys Energy' in the same article is the same organisation."""
    full = [
        m.entity
        for m in mentions
        if m.entity.type == "ORG" and m.entity.kind is None and " " in m.entity.name
    ]
    for m in mentions:
        if m.entity.type != "ORG" or m.entity.kind is not None or " " in m.entity.name:
            continue
        matches = {ref for ref in full if ref.name.split()[0] == m.entity.name}
        if len(matches) == 1:
            m.entity = matches.pop()


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a leading 'the', a trailing possessive and stray punctuation from a span."""
    span = text[start:end]
    lead = re.match(r"^(the|The|THE)\s+", span)
    if lead:
        start += lead.end()
    span = text[start:end]
    tail = re.search(r"(['’]s|['’])$", span)
    if tail:
        end -= len(tail.group(0))
    unbalanced = text.rfind("(", start, end)
    if unbalanced != -1 and text.find(")", unbalanced, end) == -1:
        end = unbalanced  # "Hindustan Aeronautics (HAL" → "Hindustan Aeronautics"
    while end > start and text[end - 1] in ' ,;:!?"“”‘’()[]-–—':
        end -= 1
    if end > start and text[end - 1] == "." and not re.search(r"(?:^|[\s.])[A-Z]\.$", text[start:end]):
        end -= 1  # a sentence's full stop, not the one of "U.S." or "Inc."
    while start < end and text[start] in ' "“”‘’()[]-–—':
        start += 1
    return start, end


def _clean_name(surface: str) -> str:
    return re.sub(r"\s+", " ", surface).strip()
