"""Event mentions in one article: agreements (first and best), meetings, exercises, policy decisions.

Everything is rules over sentences and resolved entity mentions; no parser. An agreement mention is a
trigger (a proper name such as "Reciprocal Access Agreement (RAA)", a name already known from this run
or the warehouse, or a noun: agreement, accord, treaty, pact, deal, memorandum of understanding) plus,
from the words around it, in this order:

* parties: "between X and Y", "X-Y <agreement>", "X and Y (will) sign …", "… with Y", "<agreement> X signed
  with Y", "the two countries" (the pair the context makes clear), the states of the people who sign;
  only when none of these applies, the states/blocs of the clause (never after "pressure from", "over" …).
  Also "Japan's new agreement", "the Australian pact" (a possessive or demonym on the mention itself).
  Nothing comes from world knowledge. Each mention takes parties from its own words only: a second
  mention in a sentence looks left no further than the last clause break; "between X and Y" names the
  parties outright; a state that only says where a company is from ("US oil giant ExxonMobil", "China's
  CNPC") is no party, nor is an acronym in brackets a second one.
* signers: people who are the subject of a signing verb, come after "signed by", or open "Signing the
  deal, X said".
* status: the nearest cue (rejected / negotiating / planned / signed), date and place from the same clause.

Within an article, a definite mention with no name and no parties of its own ("the deal", "the pact")
refers to the article's main agreement, or to the agreement named earlier in the same sentence;
"a similar accord with Australia" starts a separate one. Mentions of a kind ("its first such pact",
"what does a reciprocal access agreement cover?") are no agreement. An exercise named later ("The
exercise, called Arctic Lantern") is the article's exercise; plurals in general ("has criticised Nordic
exercises") are none.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from flows.stages.extract import patterns as P
from flows.stages.extract.dates import Tense, resolve_date
from flows.stages.extract.entities import ArticleAnalysis, Mention
from flows.stages.extract.gazetteer import EntityRef, Gazetteer, alias_key

_TITLE_WORDS = frozenset(
    """
    prime minister president foreign defence defense secretary leader counterpart his her their then
    chancellor premier king queen ambassador envoy state of trade deputy vice pm official general
    chief head the new former finance economy energy interior home affairs and minister’s minister's
    ’s 's japan’s
    """.split()  # noqa: SIM905 - a word list reads best as text
)


# Words that show a possessive or a demonym belongs to someone who talks about the agreement, not to the
# agreement: "Japan's prime minister said the deal", "Chinese officials criticised the pact".
_MODIFIER_GAP_STOP = re.compile(
    r"\b(minister|ministers|ministry|official|officials|president|leader|leaders|government|embassy|"
    r"spokes\w+|ambassador|envoy|media|press|said|says|told|called|criticised|criticized|welcomed|"
    r"opposed|rejected|of|with|to|on|over|about|than)\b"
)


# What may stand between an agreement word and the "between" that names its parties.
_LINKS_TO_BETWEEN = re.compile(
    r"\s*(?:(?!talks\b|meeting\b|summit\b|negotiations\b|conference\b|relations\b)[\w$£€.,-]+\s+){0,4}"
)


@dataclass(slots=True)
class EventHit:
    """One event mention: a trigger in one sentence with what the words around it say."""

    event_type: str  # AGREE | MEET | EXERCISE | POLICY
    sentence_index: int
    start: int
    end: int
    name: str | None = None
    short_name: str | None = None
    parties: list[EntityRef] = field(default_factory=list)
    signers: list[EntityRef] = field(default_factory=list)
    status: str | None = None
    event_date: date | None = None
    location: EntityRef | None = None
    anaphoric: bool = False  # "the deal": refers to the article's main agreement
    distinct: bool = False  # "a similar accord": a different agreement from the main one
    explicit_parties: bool = False
    key: str | None = None  # type-specific identity (policy amount, exercise name)
    confidence: float = 0.5


@dataclass(slots=True)
class ArticleEvent:
    """The mentions of one event within one article."""

    event_type: str
    hits: list[EventHit] = field(default_factory=list)
    names: Counter = field(default_factory=Counter)
    short_names: Counter = field(default_factory=Counter)
    parties: dict[str, EntityRef] = field(default_factory=dict)
    signers: dict[str, EntityRef] = field(default_factory=dict)
    key: str | None = None
    is_main: bool = False
    distinct: bool = False

    def add(self, hit: EventHit) -> None:
        self.hits.append(hit)
        if hit.name:
            self.names[hit.name] += 1
        if hit.short_name:
            self.short_names[hit.short_name] += 1
        for ref in hit.parties:
            self.parties.setdefault(ref.entity_id, ref)
        for ref in hit.signers:
            self.signers.setdefault(ref.entity_id, ref)
        if hit.key and not self.key:
            self.key = hit.key

    @property
    def status(self) -> str | None:
        statuses = [h.status for h in self.hits if h.status]
        return max(statuses, key=lambda s: P.STATUS_PROGRESS[s]) if statuses else None

    @property
    def event_date(self) -> date | None:
        status = self.status
        dated = [h for h in self.hits if h.event_date is not None]
        for hit in dated:
            if hit.status == status:
                return hit.event_date
        return dated[0].event_date if dated else None

    @property
    def location(self) -> EntityRef | None:
        return best_location([h.location for h in self.hits if h.location is not None])

    @property
    def name_keys(self) -> set[str]:
        return {name_key(n) for n in self.names}

    @property
    def short_keys(self) -> set[str]:
        return {s.casefold() for s in self.short_names}

    @property
    def confidence(self) -> float:
        return max(h.confidence for h in self.hits)


def best_location(refs: list[EntityRef]) -> EntityRef | None:
    """The most specific place: a facility over a city over a state, then the most frequent."""
    if not refs:
        return None
    rank = {"FAC": 0, "GPE": 1, "LOC": 2}
    counts = Counter(refs)
    return min(counts, key=lambda r: (r.is_state, rank.get(r.type, 3), -counts[r], r.name))


def name_key(name: str) -> str:
    key = alias_key(name)
    key = key.replace("defense", "defence").replace("-", " ")
    return re.sub(r"\s+", " ", key)


def initials(name: str) -> str:
    """'Reciprocal Access Agreement' (or its lower-case key) → 'raa'; connectives do not count."""
    words = re.findall(r"[A-Za-z][\w'-]*", name)
    return "".join(
        w[0] for w in words if w.casefold() not in {"of", "and", "the", "for", "on", "to", "de"}
    ).casefold()


def names_compatible(
    names_a: set[str], shorts_a: set[str], names_b: set[str], shorts_b: set[str]
) -> bool | None:
    """True: the same named agreement; False: two different names; None: one side has no name."""
    if not (names_a or shorts_a) or not (names_b or shorts_b):
        return None
    if names_a & names_b or shorts_a & shorts_b:
        return True
    initials_a = {initials(n) for n in names_a}
    initials_b = {initials(n) for n in names_b}
    return bool(initials_a & shorts_b or initials_b & shorts_a)


# ----------------------------------------------------------------------------------------------------
# names known across the run


@dataclass(slots=True)
class KnownNames:
    """Agreement names seen anywhere in the run or the warehouse, to recognise them when written lower
    case ("the reciprocal access agreement") or by acronym alone ("the RAA")."""

    names: dict[str, str] = field(default_factory=dict)  # casefolded name -> display name
    shorts: dict[str, str] = field(default_factory=dict)  # acronym -> display name of the full name
    _name_pattern: re.Pattern[str] | None = None
    _short_pattern: re.Pattern[str] | None = None

    def add(self, name: str | None, short: str | None) -> None:
        if name and len(name.split()) >= 2:
            self.names.setdefault(name.casefold(), name)
            # "the SIA" in a report that never spells out "(SIA)": the initials of a known name
            acronym = initials(name).upper()
            if len(acronym) >= 3:
                self.shorts.setdefault(acronym, name)
        if short:
            self.shorts.setdefault(short, name or "")

    def compile(self) -> None:
        if self.names:
            alternatives = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
            self._name_pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)
        if self.shorts:
            alternatives = "|".join(re.escape(s) for s in sorted(self.shorts, key=len, reverse=True))
            self._short_pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")

    def find(self, text: str, start: int, end: int):
        if self._name_pattern is not None:
            for match in self._name_pattern.finditer(text, start, end):
                yield match.start(), match.end(), self.names[match.group(0).casefold()], None
        if self._short_pattern is not None:
            for match in self._short_pattern.finditer(text, start, end):
                short = match.group(0)
                yield match.start(), match.end(), self.shorts.get(short) or None, short


def find_agreement_names(
    text: str, start: int, end: int, gaz: Gazetteer
) -> list[tuple[int, int, str, str | None]]:
    """Capitalised agreement names in text[start:end]: (start, end, name, acronym)."""
    if not P.NAME_HEAD_PRESENT.search(text[start:end]):
        return []  # most sentences: no head word, so no name (the word scan below costs 10x this)
    words = [(m.start(), m.end(), m.group(0)) for m in P.WORD.finditer(text, start, end)]
    found = []
    for i, (_w_start, w_end, word) in enumerate(words):
        if word not in P.NAME_HEADS:
            continue
        first = i
        while first > 0 and text[words[first - 1][1] : words[first][0]].isspace():
            prev = words[first - 1][2]
            if prev in P.NAME_STOP or prev in ("–", "—"):
                break
            if prev[:1].isupper() or (
                prev in P.NAME_CONNECTORS and first - 2 >= 0 and words[first - 2][2][:1].isupper()
            ):
                first -= 1
                continue
            break
        while first < i and words[first][2] in P.NAME_CONNECTORS:
            first += 1
        if word == "Memorandum":
            tail = text[w_end : w_end + 20]
            if not tail.startswith(" of Understanding"):
                continue
            last_end = w_end + len(" of Understanding")
        else:
            last_end = w_end
            j = i + 1
            if j < len(words) and words[j][2] in ("of", "on", "for") and words[j][0] - last_end <= 1:
                k = j + 1
                if k < len(words) and words[k][2] == "the":
                    k += 1
                run_end = None
                while (
                    k < len(words)
                    and text[words[k - 1][1] : words[k][0]].isspace()
                    and (
                        (words[k][2][:1].isupper() and words[k][2] not in P.NAME_STOP)
                        or (
                            words[k][2] in ("of", "and", "the")
                            and k + 1 < len(words)
                            and words[k + 1][2][:1].isupper()
                        )
                    )
                ):
                    run_end = words[k][1]
                    k += 1
                if run_end is not None:
                    last_end = run_end
        name_start = words[first][0]
        # Leading party names ("UK-Japan", "Japan–Australia") belong to the parties, not to the name.
        name_text = text[name_start:last_end]
        stripped = _strip_party_prefix(name_text, gaz)
        if stripped != name_text and len(stripped.split()) >= 2:
            name_start = last_end - len(stripped)
            name_text = stripped
        if len(name_text.split()) < 2 or gaz.lookup(name_text) is not None:
            continue  # a lone "Agreement", or a bloc/organisation's name (CPTPP is a bloc here)
        acronym = P.ACRONYM_AFTER.match(text[last_end : last_end + 14])
        short = acronym.group(1) if acronym and acronym.group(1).isupper() else None
        found.append((name_start, last_end, name_text, short))
    return found


def _strip_party_prefix(name: str, gaz: Gazetteer) -> str:
    words = name.split()
    while len(words) > 1:
        parts = re.split(r"[-–—/]", words[0])
        if all(
            p
            and (
                gaz.lookup(p) is not None and gaz.lookup(p).kind == "state" or p.casefold() in gaz.by_demonym
            )
            for p in parts
        ):
            words = words[1:]
        else:
            break
    return " ".join(words)


# ----------------------------------------------------------------------------------------------------
# per-article extraction


@dataclass(slots=True)
class _Context:
    analysis: ArticleAnalysis
    gaz: Gazetteer
    reference: date
    affiliations: dict[str, EntityRef]  # person entity_id -> state (this article, then the run)
    main: ArticleEvent | None = None
    # the agreement the last non-anaphoric mention went to, and its sentence: "the pact Tokyo reached with
    # Canberra … its text" — a pronoun or "the pact" later in that sentence means that agreement
    last_placed: tuple[int, ArticleEvent] | None = None


def person_affiliations(analysis: ArticleAnalysis) -> dict[str, EntityRef]:
    """'British Prime Minister Rishi Sunak', 'his Japanese counterpart Fumio Kishida' → person → state."""
    text = analysis.text
    out: dict[str, EntityRef] = {}
    mentions = analysis.mentions
    for i, mention in enumerate(mentions):
        if mention.entity.type != "PERSON" or mention.entity.entity_id in out:
            continue
        for j in range(i - 1, max(-1, i - 4), -1):
            other = mentions[j]
            if other.sentence_index != mention.sentence_index:
                break
            if not other.entity.is_state:
                continue
            gap = text[other.end : mention.start]
            words = re.findall(r"[\w’']+", gap.lower())
            if len(gap) <= 60 and all(w in _TITLE_WORDS for w in words):
                out[mention.entity.entity_id] = other.entity
            break
    return out


def trigger_sentences(
    text: str, sentences: list[tuple[int, int]], gaz: Gazetteer, known: KnownNames
) -> frozenset[int]:
    """The indices of the sentences holding a trigger of some event type; no other sentence can
    yield a hit (`_agreement_hits` needs a name or agreement noun, `_other_hits` a meeting,
    exercise or policy trigger). It needs no resolved entities, so extract runs it while NER
    is still working, and `extract_article_events` then looks only at these sentences.
    """
    hot = set()
    for index, (s_start, s_end) in enumerate(sentences):
        sentence = text[s_start:s_end]
        if (
            P.AGREEMENT_NOUN.search(text, s_start, s_end)
            or P.MEET_TRIGGER.search(sentence)
            or P.EXERCISE_TRIGGER.search(sentence)
            or P.POLICY.search(sentence)
            or find_agreement_names(text, s_start, s_end, gaz)
            or next(iter(known.find(text, s_start, s_end)), None) is not None
        ):
            hot.add(index)
    return frozenset(hot)


def extract_article_events(
    analysis: ArticleAnalysis,
    gaz: Gazetteer,
    reference: date,
    known: KnownNames,
    run_affiliations: dict[str, EntityRef],
    hot: frozenset[int] | None = None,
) -> list[ArticleEvent]:
    """The article's events; `hot` (from `trigger_sentences`, with the same `known`) limits the
    search to the sentences that hold a trigger, which gives the same events sooner."""
    affiliations = dict(run_affiliations)
    affiliations.update(person_affiliations(analysis))
    ctx = _Context(analysis, gaz, reference, affiliations)
    agreements: list[ArticleEvent] = []
    others: list[ArticleEvent] = []
    for index, (s_start, s_end) in enumerate(analysis.sentences):
        if hot is not None and index not in hot:
            continue
        if analysis.in_boilerplate(s_start, s_end):
            continue
        for hit in _agreement_hits(ctx, index, s_start, s_end, known):
            _place_agreement_hit(ctx, agreements, hit)
        for hit in _other_hits(ctx, index, s_start, s_end):
            _place_other_hit(others, hit)
    # An unnamed agreement is known only by its parties: with fewer than two it is no event we can keep.
    kept = [ev for ev in agreements if ev.names or ev.short_names or len(ev.parties) >= 2]
    return kept + others


def _agreement_hits(ctx: _Context, index: int, s_start: int, s_end: int, known: KnownNames) -> list[EventHit]:
    text = ctx.analysis.text
    triggers: list[tuple[int, int, str | None, str | None]] = []
    for n_start, n_end, name, short in find_agreement_names(text, s_start, s_end, ctx.gaz):
        triggers.append((n_start, n_end, name, short))
    for k_start, k_end, name, short in known.find(text, s_start, s_end):
        if not any(t[0] <= k_start < t[1] for t in triggers):
            triggers.append((k_start, k_end, name, short))
    for match in P.AGREEMENT_NOUN.finditer(text, s_start, s_end):
        if not any(t[0] <= match.start() < t[1] + 1 for t in triggers):
            triggers.append((match.start(), match.end(), None, None))
    triggers.sort()
    # A trigger inside an organisation's name ("North Atlantic Treaty Organization") is no agreement.
    triggers = [
        t
        for t in triggers
        if not any(m.start <= t[0] < m.end and m.entity.type == "ORG" for m in ctx.analysis.mentions)
    ]
    # Adjacent triggers for one thing ("the RAA pact", "Reciprocal Access Agreement (RAA)") collapse.
    merged: list[tuple[int, int, str | None, str | None]] = []
    for trig in triggers:
        if (
            merged
            and trig[0] - merged[-1][1] <= 3
            and re.fullmatch(r"[\s()]*", text[merged[-1][1] : trig[0]])
        ):
            prev = merged[-1]
            merged[-1] = (prev[0], trig[1], prev[2] or trig[2], prev[3] or trig[3])
        else:
            merged.append(trig)
    hits = []
    for i, (t_start, t_end, name, short) in enumerate(merged):
        scope_start = _own_phrase_start(text, merged[i - 1][1], t_start) if i > 0 else s_start
        scope_end = merged[i + 1][0] if i + 1 < len(merged) else s_end
        hit = _agreement_hit(ctx, index, s_start, s_end, scope_start, scope_end, t_start, t_end, name, short)
        if hit is not None:
            hits.append(hit)
    if not merged and ctx.main is not None:
        # "It is to be signed by …": a signing sentence with no agreement word refers to the main one.
        sentence = text[s_start:s_end]
        if P.PRONOUN_SUBJECT.match(sentence) and P.SIGN_VERB.search(sentence):
            verb = P.SIGN_VERB.search(sentence)
            hit = _agreement_hit(
                ctx,
                index,
                s_start,
                s_end,
                s_start,
                s_end,
                s_start + verb.start(),
                s_start + verb.end(),
                None,
                None,
            )
            if hit is not None:
                hit.anaphoric, hit.distinct, hit.parties = True, False, []
                hits.append(hit)
    return hits


def _own_phrase_start(text: str, previous_end: int, t_start: int) -> int:
    """Where a later agreement mention's own words begin in a sentence that named another one first.

    In "Japan's agreement with Britain, signed by Kishida and Sunak, follows the pact Tokyo reached with
    Canberra", the signing and Britain belong to the first mention: the second one looks left only as far
    as the last clause break before it."""
    breaks = list(P.CLAUSE_BREAK.finditer(text, previous_end, t_start))
    return breaks[-1].end() if breaks else previous_end


def _agreement_hit(
    ctx, index, s_start, s_end, scope_start, scope_end, t_start, t_end, name, short
) -> EventHit | None:
    text = ctx.analysis.text
    trigger_text = text[t_start:t_end]
    plural = bool(re.search(r"(ments|accords|treaties|pacts|deals|MoUs|MOUs)$", trigger_text)) and not name
    before = text[max(scope_start, t_start - 80) : t_start]
    det = P.DETERMINER_BEFORE.search(before)
    determiner = det.group(1).lower() if det else None
    adjectives = det.group(2) if det else before[-40:]
    distinct = bool(P.DISTINCT_ADJECTIVES.search(adjectives or ""))
    if not name and not short and re.search(r"\bsuch\s+(?:[\w-]+\s+)?$", before, re.I):
        return None  # "its first such pact": the kind of agreement, not one of them
    if name and not short and text[t_start:t_end].islower() and determiner in ("a", "an", "any", "such"):
        name = None  # "what does a reciprocal access agreement cover?": the kind, not the named one
    mentions = _without_company_modifiers(
        text, [m for m in ctx.analysis.mentions if scope_start <= m.start and m.end <= scope_end]
    )
    hit = EventHit("AGREE", index, t_start, t_end, name=name, short_name=short, distinct=distinct)

    explicit, pair_used = _explicit_parties(
        ctx, text, mentions, scope_start, scope_end, t_start, t_end, plural
    )
    hit.signers = _signers(ctx, text, mentions, scope_start, scope_end, s_start)
    for signer in hit.signers:
        state = ctx.affiliations.get(signer.entity_id)
        if state is not None and state.entity_id not in {p.entity_id for p in explicit}:
            explicit.append(state)
    hit.explicit_parties = bool(explicit) and not (pair_used and len(explicit) == len(pair_used))
    anaphoric = determiner in ("the", "this", "that", "its", "their", "our") and not name and not short
    if not explicit and not anaphoric and not plural and not name and not short:
        # Only an unnamed, indefinite mention ("a defence pact") falls back to the clause's states;
        # a named one is identified by its name and takes parties from explicit patterns only.
        explicit = _fallback_parties(ctx, text, mentions, t_start)
    if plural and not _coordinated(
        text,
        explicit,
        [m for m in mentions if m.start < t_start] + _between(text, mentions, t_end, scope_end),
    ):
        return None  # "reciprocal access deals" in general: no particular agreement
    hit.parties = _dedupe(explicit)
    hit.anaphoric = anaphoric and not hit.explicit_parties and not distinct
    hit.status, cue_span = _status(text, scope_start, scope_end, t_start, t_end)
    clauses = _clauses(text, s_start, s_end, [(t_start, t_end)] + ([cue_span] if cue_span else []))
    tense: Tense = {"planned": "future", "signed": "past", "rejected": "past"}.get(
        hit.status or "", "unknown"
    )
    hit.event_date = _date_in(ctx, clauses, tense, t_start)
    hit.location = _location_in(ctx, text, clauses)
    historical = hit.event_date is not None and hit.event_date.year < ctx.reference.year - 1
    if historical and not (name or short):
        # "Their first trade agreement was signed in 1954": not the agreement the article is about
        main_date = ctx.main.event_date if ctx.main is not None else None
        if main_date is None or abs(main_date.year - hit.event_date.year) > 1:
            hit.anaphoric, hit.distinct = False, True
            if not hit.parties and determiner in ("their", "both"):
                hit.parties = _context_pair(ctx, t_start) or []
    if hit.status is None and historical:
        hit.status = "signed"  # an agreement dated years back that the text refers to as existing
    hit.confidence = _confidence(hit)
    return hit


def _without_company_modifiers(text: str, mentions: list[Mention]) -> list[Mention]:
    """Drop states that only say where a company is from: "US oil giant ExxonMobil", "China's CNPC",
    "Venezuelan energy firm PDVSA" name one party, the company, not two."""
    out = []
    for i, m in enumerate(mentions):
        following = mentions[i + 1] if i + 1 < len(mentions) else None
        if (
            following is not None
            and (m.entity.is_state or m.entity.kind == "former-state" or m.label == "NORP")
            and following.entity.type == "ORG"
            and following.entity.kind not in ("bloc", "igo", "alliance", "government")
            and re.fullmatch(r"(?:['’]s?)?\s+(?:[a-z][\w-]*\s+){0,3}", text[m.end : following.start])
        ):
            continue
        bracketed = i > 0 and re.fullmatch(r"\s*\(", text[mentions[i - 1].end : m.start])
        if bracketed and text[m.end : m.end + 1] == ")":
            continue  # "the National Iranian Oil Company (NIOC)": the acronym is the same party again
        if m.entity.is_state and re.match(
            r"['’]s\s+(?!(?:Prime|President|Foreign|Defence|Defense|Trade|Finance|Prince|King|Queen)\b)[A-Z]",
            text[m.end : m.end + 14],
        ):
            owned_start = m.end + text[m.end : m.end + 4].index(" ") + 1
            if not any(o.start <= owned_start < o.end for o in mentions):
                continue  # "Argentina's Enarsa": a name NER missed that the state owns, a company
        out.append(m)
    return out


def _between(text: str, mentions: list[Mention], t_end: int, scope_end: int) -> list[Mention]:
    match = re.search(r"\bbetween\s+", text[t_end:scope_end])
    return [m for m in mentions if match and m.start >= t_end + match.end()]


def _coordinated(text: str, parties: list[EntityRef], mentions: list[Mention]) -> bool:
    """At least two of the parties are named side by side: "X and Y", "X, Y and Z", "X-Y"."""
    ids = {p.entity_id for p in parties}
    named = [m for m in mentions if m.entity.entity_id in ids]
    for left, right in zip(named, named[1:], strict=False):
        raw = text[left.end : right.start]
        gap = raw.strip().lower()
        if gap in ("-", "–", "—", "/") and raw != gap:
            continue  # "Iran - Opec's second-biggest producer -": a spaced dash sets off an aside
        if gap in ("and", ",", "-", "–", "—", "/", "and the", ", the") and left.entity != right.entity:
            return True
    return False


def _dedupe(refs: list[EntityRef]) -> list[EntityRef]:
    seen, out = set(), []
    for ref in refs:
        if ref.entity_id not in seen:
            seen.add(ref.entity_id)
            out.append(ref)
    return out


def _party(mention: Mention, strict: bool) -> EntityRef | None:
    ref = mention.entity
    if ref.is_state or ref.kind == "former-state":
        return ref
    if ref.type == "ORG" and ref.kind in ("bloc", "igo", "alliance"):
        return ref
    if strict:
        return None
    if ref.type == "ORG" and ref.kind not in ("think-tank", "government"):
        return ref
    if ref.type == "GPE" and ref.kind in (None, "nation"):
        return ref  # a GPE the gazetteer does not know, or a constituent nation ("England")
    return None


def _explicit_parties(ctx, text, mentions, scope_start, scope_end, t_start, t_end, plural):
    parties: list[EntityRef] = []
    pair_used: list[EntityRef] = []
    # "between X and Y"
    between = re.search(r"\bbetween\s+", text[t_end:scope_end])
    # "a deal signed last year between X and Y", not "the agreements were sealed after talks between …"
    if between and _LINKS_TO_BETWEEN.fullmatch(text[t_end : t_end + between.start()]):
        region_start = t_end + between.end()
        region_end = _coordination_end(text, region_start, scope_end)
        pair = _pair_in(ctx, text, region_start, region_end)
        if pair:
            parties.extend(pair)
            pair_used.extend(pair)
        else:
            found = [r for m in mentions if region_start <= m.start < region_end if (r := _party(m, False))]
            if found:
                # The text names the parties outright; states around it ("the two countries formalised a
                # deal between PDVSA and Enarsa") are context, even when NER missed one of the names.
                return _dedupe(found), []
    # "UK-Japan <agreement>", "Japan–Australia accord"
    for left, right in zip(mentions, mentions[1:], strict=False):
        if text[left.end : right.start] in ("-", "–", "—", "/") and 0 <= t_start - right.end <= 45:
            gap = text[right.end : t_start]
            if re.fullmatch(r"[\s\w’'-]*", gap):
                parties.extend(r for m in (left, right) if (r := _party(m, False)))
    # "Japan's new defence agreement", "the Australian pact": a state (or bloc) that owns or modifies the
    # mention itself. Not for plurals: "the Canadian and Israeli pacts" are two agreements, not one.
    if not plural:
        for m in mentions:
            if m.end > t_start or t_start - m.end > 40:
                continue
            gap = text[m.end : t_start]
            possessive = re.fullmatch(r"['’]s?\s+(?:[a-z][\w-]*\s+){0,3}", gap)
            # "the Australian pact", not "Japanese officials said the deal"
            modifier = (
                m.label == "NORP"
                and re.fullmatch(r"\s+(?:[a-z][\w-]*\s+){0,2}", gap)
                and re.search(
                    r"\b(?:the|a|an|this|that|its|their|new)\s+$", text[max(0, m.start - 8) : m.start], re.I
                )
            )
            if (
                (possessive or modifier)
                and not _MODIFIER_GAP_STOP.search(gap)
                and (ref := _party(m, True)) is not None
            ):
                parties.append(ref)
    # "X and Y (are set to) sign …" / "X has signed … with Y" / "Japan is considering a similar pact"
    verb = None
    for match in P.PARTY_VERB.finditer(text, scope_start, t_start):
        verb = match
        break
    if verb is not None and not P.SPEECH_VERB.search(text, scope_start, verb.start()):
        subject_start = _last_clause_start(text, scope_start, verb.start())
        # "The meeting, which is held with the IMF/World Bank sessions, will reaffirm the pact": names in a
        # relative clause inside the subject are not its subject
        asides = [
            (subject_start + a.start(), subject_start + a.end())
            for a in re.finditer(r",\s*(?:which|who|whose|where)\b[^,]*,", text[subject_start : verb.start()])
        ]
        pair = _pair_in(ctx, text, subject_start, verb.start())
        if pair:
            parties.extend(pair)
            pair_used.extend(pair)
        for m in mentions:
            if (
                subject_start <= m.start
                and m.end <= verb.start()
                and not _excluded(text, m, subject_start)
                and not any(a <= m.start < b for a, b in asides)
                # "opposition parties in Japan have welcomed the deal": a place in the subject, not it
                and not re.search(
                    r"\b(?:in|at|across|inside|within)\s+(?:the\s+)?$", text[subject_start : m.start]
                )
            ):
                ref = _party(m, False)
                if ref is not None:
                    parties.append(ref)
    # "<agreement> Japan signed with Australia": a relative clause after the trigger
    after = re.match(r"\s+(?:that\s+|which\s+)?", text[t_end:scope_end])
    rel_start = t_end + (after.end() if after else 0)
    rel_verb = re.search(
        r"\b(signed|inked|struck|agreed|concluded|reached|sealed|clinched|negotiated|has signed|had signed)"
        r"\b",
        text[rel_start:scope_end],
    )
    if rel_verb and rel_verb.start() <= 40:
        for m in mentions:
            if rel_start <= m.start < rel_start + rel_verb.start() and (ref := _party(m, False)):
                parties.append(ref)
    # "… with Y"
    with_match = re.search(r"\bwith\s+", text[t_end:scope_end])
    if (
        with_match
        and with_match.start() <= 60
        and not re.search(r"[,;]", text[t_end : t_end + with_match.start()])
    ):
        region_start = t_end + with_match.end()
        region_end = _coordination_end(text, region_start, scope_end)
        parties.extend(r for m in mentions if region_start <= m.start < region_end if (r := _party(m, False)))
    # "the two countries" anywhere in the scope
    for match in P.PAIR_PHRASE.finditer(text, scope_start, t_start):
        # only as the subject ("the two countries signed a deal"); "… growth in both countries" is context
        if match.group(1).lower() == "leaders":
            continue
        pair = _context_pair(ctx, match.start())
        if pair:
            parties.extend(pair)
            pair_used.extend(pair)
    return _dedupe(parties), _dedupe(pair_used)


def _pair_in(ctx, text, start, end) -> list[EntityRef] | None:
    match = P.PAIR_PHRASE.search(text, start, end)
    if match and match.group(1).lower() != "leaders":
        return _context_pair(ctx, match.start())
    return None


def _coordination_end(text: str, start: int, limit: int) -> int:
    """End of a coordinated list of names: 'Japan and the Philippines would …' stops before 'would'."""
    match = re.search(
        r"[;:.?!]|,\s+(?!and\b)(?:[a-z])|\s(?:would|will|is|are|was|were|has|have|in|on|to|that|which|"
        r"for|after|since|as|could|may|might|to)\s",
        text[start:limit],
    )
    return start + match.start() if match else limit


def _last_clause_start(text: str, start: int, end: int) -> int:
    segment = text[start:end]
    breaks = [m.end() for m in re.finditer(r"[;:]|,\s+(?:and|but|while|as)\s+|\s[–—]\s", segment)]
    return start + (breaks[-1] if breaks else 0)


def _excluded(text: str, mention: Mention, floor: int) -> bool:
    before = text[max(floor, mention.start - 40) : mention.start]
    return bool(P.NOT_PARTY_BEFORE.search(before))


def _fallback_parties(ctx, text, mentions, t_start) -> list[EntityRef]:
    out = []
    for m in mentions:
        ref = _party(m, True)
        if ref is None:
            continue
        before = text[max(0, m.start - 40) : m.start]
        if P.NOT_PARTY_BEFORE.search(before) or P.NOT_PARTY_BEFORE_WEAK.search(before):
            continue
        if re.search(r"according to\s+$|told\s+$", before):
            continue
        out.append(ref)
    out = _dedupe(out)
    return out if len(out) <= 3 else []


def _context_pair(ctx: _Context, pos: int) -> list[EntityRef] | None:
    """The two parties 'the two countries' stands for: the main agreement's pair, else the last two
    distinct states named in this or the three sentences before."""
    if ctx.main is not None and len(ctx.main.parties) == 2:
        return list(ctx.main.parties.values())
    analysis = ctx.analysis
    sentence_index = analysis.sentence_index_at(pos)
    seen: list[EntityRef] = []
    for m in reversed(analysis.mentions):
        if m.start >= pos or m.sentence_index < sentence_index - 3:
            continue
        if m.entity.is_state and m.entity not in seen:
            seen.append(m.entity)
            if len(seen) == 2:
                return list(reversed(seen))
    return None


def _signers(ctx, text, mentions, scope_start, scope_end, s_start) -> list[EntityRef]:
    sentence = text[s_start:scope_end]
    verb = P.SIGN_VERB.search(text, scope_start, scope_end)
    opening = re.match(r"\s*Signing\b[^,]*,\s*", sentence)
    out: list[EntityRef] = []
    if opening:
        for m in mentions:
            if m.start >= s_start + opening.end() and m.entity.type == "PERSON":
                return [m.entity]
    if verb is None:
        return []
    people = [m for m in mentions if m.entity.type == "PERSON"]
    # "signed by X", "signed at Rideau Hall by X", "signed in Ottawa on Wednesday by X"
    by = re.match(r"[^.;]{0,60}?\s+by\s+", text[verb.end() : scope_end])
    if by:
        region_start = verb.end() + by.end()
        stop = re.search(
            r"\s(during|at|in|on|after|before|when|while|as|for|to)\s|[;.]", text[region_start:scope_end]
        )
        region_end = region_start + stop.start() if stop else scope_end
        out.extend(m.entity for m in people if region_start <= m.start < region_end)
    subject_start = _last_clause_start(text, scope_start, verb.start())
    for m in people:
        if subject_start <= m.start and m.end <= verb.start():
            after = text[m.end : m.end + 12]
            if re.match(r"['’]s\b|\s*,?\s*(said|says|told|added|who)\b", after):
                continue  # a speaker or a possessor ("Sunak's office") is not the one who signs
            out.append(m.entity)
    return _dedupe(out)


def _status(text, scope_start, scope_end, t_start, t_end) -> tuple[str | None, tuple[int, int] | None]:
    taken: list[tuple[int, int]] = []
    best = None
    for status, pattern in P.STATUS_CUES:
        for match in pattern.finditer(text, scope_start, scope_end):
            span = (match.start(), match.end())
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            taken.append(span)
            distance = span[0] - t_end if span[0] >= t_end else t_start - span[1]
            candidate = (max(distance, 0), -P.STATUS_PROGRESS[status], status, span)
            if best is None or candidate < best:
                best = candidate
    if best is None:
        return None, None
    return best[2], best[3]


def _clauses(text: str, s_start: int, s_end: int, anchors: list[tuple[int, int]]) -> list[tuple[int, int]]:
    bounds = [s_start] + [s_start + m.start() for m in P.CLAUSE_BREAK.finditer(text[s_start:s_end])] + [s_end]
    out = []
    for a_start, _ in anchors:
        for left, right in zip(bounds, bounds[1:], strict=False):
            if left <= a_start < right and (left, right) not in out:
                out.append((left, right))
    return out


def _date_in(ctx: _Context, clauses, tense: Tense, anchor: int) -> date | None:
    best = None
    for span in ctx.analysis.dates:
        if not any(c_start <= span.start < c_end for c_start, c_end in clauses):
            continue
        before = ctx.analysis.text[max(0, span.start - 4) : span.start]
        if re.search(r"\bby\s+$", before):
            continue  # "by 2027" is a target, not when this happens
        resolved = resolve_date(span.text, ctx.reference, tense)
        if resolved is None:
            continue
        distance = abs(span.start - anchor)
        if best is None or distance < best[0]:
            best = (distance, resolved)
    return best[1] if best else None


def _location_in(ctx: _Context, text: str, clauses) -> EntityRef | None:
    places = []
    for m in ctx.analysis.mentions:
        if m.government or m.label == "NORP" or m.entity.type not in ("FAC", "GPE", "LOC"):
            continue
        if not any(c_start <= m.start < c_end for c_start, c_end in clauses):
            continue
        if P.PLACE_BEFORE.search(text[max(0, m.start - 50) : m.start]):
            places.append(m.entity)
    return best_location(places)


def _confidence(hit: EventHit) -> float:
    score = 0.35
    if hit.name or hit.short_name:
        score += 0.25
    if len(hit.parties) >= 2:
        score += 0.2 if hit.explicit_parties else 0.1
    if hit.status:
        score += 0.1
    if hit.signers:
        score += 0.05
    if hit.anaphoric:
        score -= 0.1
    return round(min(max(score, 0.05), 1.0), 3)


def _place_agreement_hit(ctx: _Context, events: list[ArticleEvent], hit: EventHit) -> None:
    hit_parties = {p.entity_id for p in hit.parties}
    target = None
    if hit.anaphoric:
        same_sentence = ctx.last_placed is not None and ctx.last_placed[0] == hit.sentence_index
        target = ctx.last_placed[1] if same_sentence else ctx.main
    elif hit.name or hit.short_name:
        names = {name_key(hit.name)} if hit.name else set()
        shorts = {hit.short_name.casefold()} if hit.short_name else set()
        for ev in _main_first(events, ctx.main):
            if names_compatible(ev.name_keys, ev.short_keys, names, shorts) is True and _parties_nest(
                ev, hit_parties
            ):
                target = ev
                break
        if target is None and hit_parties:
            target = next((ev for ev in events if set(ev.parties) == hit_parties), None)
        if (
            target is None
            and not hit_parties
            and ctx.main is not None
            and names_compatible(ctx.main.name_keys, ctx.main.short_keys, names, shorts) is not False
        ):
            target = ctx.main
    elif hit_parties:
        candidates = [ev for ev in _main_first(events, ctx.main) if not (hit.distinct and ev.is_main)]
        for ev in candidates:
            have = set(ev.parties)
            if hit.distinct and have != hit_parties:
                continue
            # A mention naming fewer parties joins; one naming more joins only an event that has not
            # got a pair yet, so parties of other deals in the article do not pile up on one event.
            if (not have and ev.is_main) or hit_parties <= have or (have < hit_parties and len(have) < 2):
                target = ev
                break
    if target is None:
        target = ArticleEvent("AGREE", distinct=hit.distinct)
        if ctx.main is None and not hit.distinct:
            target.is_main = True
            ctx.main = target
        events.append(target)
    target.add(hit)
    if not hit.anaphoric:
        ctx.last_placed = (hit.sentence_index, target)


def _main_first(events: list[ArticleEvent], main: ArticleEvent | None) -> list[ArticleEvent]:
    return ([main] if main is not None else []) + [ev for ev in events if ev is not main]


def _parties_nest(event: ArticleEvent, parties: set[str]) -> bool:
    have = set(event.parties)
    return not have or not parties or have <= parties or parties <= have


# ----------------------------------------------------------------------------------------------------
# meetings, exercises, policy decisions


def _other_hits(ctx: _Context, index: int, s_start: int, s_end: int) -> list[EventHit]:
    text = ctx.analysis.text
    sentence = text[s_start:s_end]
    mentions = ctx.analysis.sentence_mentions(index)
    hits: list[EventHit] = []
    meet = P.MEET_TRIGGER.search(sentence)
    if meet:
        hit = _meeting(ctx, index, s_start, s_end, meet, mentions)
        if hit:
            hits.append(hit)
    exercise_hits = [
        hit
        for exercise in P.EXERCISE_TRIGGER.finditer(sentence)
        if (hit := _exercise(ctx, index, s_start, s_end, exercise, mentions)) is not None
    ]
    if exercise_hits:
        # one exercise per sentence: the named one when there is one ("the Vigilant Isles 22 exercise")
        hits.append(max(exercise_hits, key=lambda h: (h.name is not None, -h.start)))
    policy = P.POLICY.search(sentence)
    if policy:
        hit = _policy(ctx, index, s_start, s_end, policy, mentions)
        if hit:
            hits.append(hit)
    return hits


def _meeting(ctx, index, s_start, s_end, match, mentions) -> EventHit | None:
    text = ctx.analysis.text
    people = []
    for m in mentions:
        if m.entity.type != "PERSON":
            continue
        after = text[m.end : m.end + 14]
        if re.match(r"['’]s\s+(predecessor|successor|office|spokesman|spokeswoman)", after):
            continue
        people.append(m.entity)
    people = _dedupe(people)
    if re.search(r"\b(he|she)\b", text[s_start : s_start + match.start()]) and len(people) == 1:
        previous = [
            m.entity for m in ctx.analysis.mentions if m.entity.type == "PERSON" and m.start < s_start
        ]
        if previous and previous[-1] not in people:
            people.insert(0, previous[-1])
    if (
        P.PAIR_PHRASE.search(text, s_start, s_end)
        and len(people) < 2
        and ctx.main is not None
        and len(ctx.main.signers) == 2
    ):
        people = _dedupe(list(ctx.main.signers.values()) + people)
    if len(people) < 2:
        return None
    trigger_start = s_start + match.start()
    hit = EventHit("MEET", index, trigger_start, s_start + match.end(), parties=people)
    future = re.search(
        r"\b(will|to|set to|due to|expected to|plans? to)\s+(meet|visit|host|hold)", text[s_start:s_end], re.I
    )
    hit.status = "planned" if future else "occurred"
    clauses = _clauses(text, s_start, s_end, [(trigger_start, hit.end)])
    hit.event_date = _date_in(ctx, clauses, "future" if future else "past", trigger_start)
    hit.location = _location_in(ctx, text, [(s_start, s_end)])
    hit.confidence = 0.5 + (0.1 if hit.location else 0) + (0.1 if hit.event_date else 0)
    return hit


def _exercise(ctx, index, s_start, s_end, match, mentions) -> EventHit | None:
    text = ctx.analysis.text
    t_start, t_end = s_start + match.start(), s_start + match.end()
    name = None
    before = re.search(
        r"((?:[A-Z][\w-]*|\d{2,4})(?:\s+(?:[A-Z][\w-]*|\d{2,4})){0,3})\s+$", text[s_start:t_start]
    )
    if before and before.group(1).split()[0] not in P.NAME_STOP:
        name = before.group(1)
    elif text[t_start:t_end][:1].isupper():
        after = P.EXERCISE_NAME_AFTER.match(text[t_end:s_end])
        if after:
            name = after.group(1)
    called = P.EXERCISE_CALLED.match(text[t_end:s_end])
    if name is None and called:
        name = called.group(1)  # "The exercise, called Arctic Lantern, …"
    if name is not None and _names_no_exercise(ctx, name):
        name = None  # "British Army exercise", "Nordic exercises": who holds it, not its name
    plural = text[t_start:t_end].lower().endswith(("exercises", "drills", "games", "manoeuvres", "maneuvers"))
    if plural and name is None and (
        not P.EXERCISE_ACTION.search(text, s_start, s_end) or P.HABITUAL.search(text, s_start, s_end)
    ):
        return None  # "has previously criticised Nordic exercises": exercises in general, not one
    if name is None and not P.EXERCISE_ACTION.search(text, s_start, s_end):
        return None
    participants = []
    for m in mentions:
        ref = m.entity
        military = ref.type == "ORG" and re.search(r"\b(Army|Navy|Force|Forces|Marines|Guard)\b", ref.name)
        if not (ref.is_state or military or (ref.type == "ORG" and ref.kind in ("bloc", "alliance"))):
            continue
        if not P.EXERCISE_NOT_PARTY_BEFORE.search(text[max(s_start, m.start - 30) : m.start]):
            participants.append(ref)
    for pair_match in P.PAIR_PHRASE.finditer(text, s_start, s_end):
        pair = _context_pair(ctx, pair_match.start())
        if pair:
            participants.extend(pair)
    participants = _dedupe(participants)
    if name is None and len(participants) < 2:
        return None
    hit = EventHit(
        "EXERCISE",
        index,
        t_start,
        t_end,
        name=name,
        parties=participants,
        key=name_key(name) if name else None,
        anaphoric=bool(
            re.search(r"\b(?:the|this|that)\s+$", text[max(s_start, t_start - 6) : t_start], re.I)
        ),
    )
    future = re.search(r"\b(will|to)\s+(hold|conduct|stage|take part)", text[s_start:s_end], re.I)
    hit.status = "planned" if future else "occurred"
    clauses = _clauses(text, s_start, s_end, [(t_start, t_end)])
    hit.event_date = _date_in(ctx, clauses, "future" if future else "past", t_start)
    hit.location = _location_in(ctx, text, [(s_start, s_end)])
    hit.confidence = 0.5 + (0.2 if name else 0) + (0.1 if len(participants) >= 2 else 0)
    return hit


def _names_no_exercise(ctx: _Context, name: str) -> bool:
    """An organisation, a state or a demonym before "exercise" says who holds it; it is no name."""
    key = alias_key(name)
    return (
        ctx.gaz.lookup(name) is not None
        or key in ctx.gaz.by_demonym
        or key in ctx.gaz.generic_norp
        or any(alias_key(word) in ctx.gaz.by_demonym for word in name.split())
    )


def _policy(ctx, index, s_start, s_end, match, mentions) -> EventHit | None:
    text = ctx.analysis.text
    v_start = s_start + match.start()
    actor = None
    for m in mentions:
        if m.start >= v_start:
            break
        if m.entity.is_state and not _excluded(text, m, s_start):
            actor = m.entity
    if actor is None and P.GOVERNMENT_WORDS.search(text, s_start, v_start):
        states = [
            m.entity
            for m in ctx.analysis.mentions
            if m.entity.is_state and m.start < s_start and m.sentence_index >= index - 2
        ]
        actor = states[-1] if states else None
    if actor is None:
        return None
    amount = _normalise_amount(match.group("amount"))
    year = match.group("year")
    obj = re.sub(r"\s+", " ", match.group("object") or "").strip()
    verb = match.group(1).lower()
    name = " ".join(p for p in (verb, obj, "to", amount, f"by {year}" if year else "") if p)
    hit = EventHit("POLICY", index, v_start, s_start + match.end(), name=name, parties=[actor])
    hit.key = f"{actor.entity_id}|{obj.lower()}|{amount.lower()}|{year or ''}"
    planned = re.search(
        r"\b(plans?|will|would|pledged|proposed|aims?|intends?|wants?)\b", text[s_start:v_start], re.I
    )
    hit.status = (
        "planned" if planned and not re.search(r"\bapproved\b", text[s_start:v_start]) else "occurred"
    )
    # the decision's date may sit in an opening phrase ("Last month, the government approved …")
    hit.event_date = _date_in(ctx, [(s_start, s_end)], "past", v_start)
    hit.confidence = 0.6
    return hit


def _normalise_amount(amount: str) -> str:
    amount = re.sub(r"\s+", " ", amount.strip())
    for word, digit in P.NUMBER_WORDS.items():
        amount = re.sub(rf"^{word}\b", digit, amount, flags=re.I)
    amount = re.sub(r"[\s-]?(per ?cent|percent)", "%", amount, flags=re.I)
    return re.sub(r"gross domestic product", "GDP", amount, flags=re.I)


def _nest(a: set[str], b: set[str]) -> bool:
    return bool(a) and bool(b) and (a <= b or b <= a)


def _place_other_hit(events: list[ArticleEvent], hit: EventHit) -> None:
    for ev in events:
        if ev.event_type != hit.event_type:
            continue
        if hit.key and ev.key == hit.key:
            ev.add(hit)
            return
        if hit.event_type == "MEET" and {p.entity_id for p in hit.parties} == set(ev.parties):
            ev.add(hit)
            return
        if (
            hit.event_type == "EXERCISE"
            and not hit.key
            and not ev.key
            and {p.entity_id for p in hit.parties} == set(ev.parties)
        ):
            ev.add(hit)
            return
        if (
            hit.event_type == "EXERCISE"
            and hit.key
            and not ev.key
            and (hit.anaphoric or _nest({p.entity_id for p in hit.parties}, set(ev.parties)))
        ):
            ev.add(hit)  # "The exercise, called Arctic Lantern": the article's exercise gets its name
            return
    event = ArticleEvent(hit.event_type, key=hit.key)
    event.add(hit)
    events.append(event)
