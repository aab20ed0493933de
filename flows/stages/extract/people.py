"""Canonical person names: titles stripped, name order settled, surname-only mentions resolved.

Rules, in the order they apply:
* Titles ("Prime Minister", "Mr", "Dr", "Foreign Secretary", …) are stripped; a royal title is kept when
  nothing but one name would remain ("King James").
* Name order. When the run (or the warehouse) has both "A B" and "B A", the canonical form is the one
  whose LAST word is also used alone (surname-only mentions reveal the family name); ties fall back to
  the Japanese family-name list. When only one order is seen, a two-word name whose first word is a
  common Japanese family name (and whose second is not) is reordered to given-name-first, the form
  English-language outlets mostly use; Chinese and Korean names keep family-name-first.
* A surname-only mention resolves to the one full name in the same article with that last word, else
  to the one such name in the run or the warehouse, else (after a title such as "Mr") stays a
  one-word name; otherwise it is dropped (a lone capitalised word is more often a mislabelled place).
* Two surnames of different people glued into one span ("Kishida Sunak") are split into two mentions.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from flows.stages.extract.gazetteer import EntityRef, Gazetteer, alias_key

_NAME_TOKEN = re.compile(
    r"^(?:[A-Z][\w'’.-]*|[A-Z]\.|(?:de|da|van|von|der|den|bin|al|el|le|la|du|di)|al-[A-Z][\w-]*)$"
)
_MONTHS_AND_DAYS = frozenset(
    """
    january february march april may june july august september october november december monday
    tuesday wednesday thursday friday saturday sunday
    """.split()  # noqa: SIM905 - a word list reads best as text
)


@dataclass(slots=True)
class PersonName:
    start: int
    end: int
    tokens: tuple[str, ...]
    title: str | None  # the stripped title, lower case, if any


def clean_person_span(text: str, start: int, end: int, gaz: Gazetteer) -> PersonName | None:
    """Strip titles and possessives from a PERSON span; None when what is left is not a name."""
    title = None
    changed = True
    while changed:
        changed = False
        lowered = text[start:end].lower()
        for candidate in gaz.titles:
            if lowered.startswith(candidate + " ") or lowered.startswith(candidate + ". "):
                start += len(candidate) + 1
                while start < end and text[start] in " .":
                    start += 1
                title, changed = candidate, True
                break
    if title is None:
        before = text[max(0, start - 30) : start].lower()
        for candidate in gaz.titles:
            if re.search(r"(?:^|\s)" + re.escape(candidate) + r"\.?\s+$", before):
                title = candidate
                break
    surface = text[start:end]
    possessive = re.search(r"(['’]s|['’])$", surface)
    if possessive:
        end -= len(possessive.group(0))
        surface = text[start:end]
    if "\n" in surface:
        return None
    tokens = tuple(surface.split())
    if not tokens or len(tokens) > 5 or any(ch.isdigit() for ch in surface):
        return None
    if not all(_NAME_TOKEN.match(tok) for tok in tokens) or not tokens[-1][:1].isupper():
        return None
    if len(tokens) == 1 and tokens[0].lower() in _MONTHS_AND_DAYS:
        return None
    return PersonName(start, end, tokens, title)


@dataclass(slots=True)
class ArticlePeople:
    """Surname index of one article's people."""

    by_surname: dict[str, list[EntityRef]]
    glued: set[tuple[str, ...]]

    def resolve_single(self, word: str) -> EntityRef | None:
        key = alias_key(word)
        refs = self.by_surname.get(key, [])
        return refs[0] if len(refs) == 1 else None

    def split_glued(self, name: PersonName) -> list[tuple[int, int, EntityRef]] | None:
        if tuple(t.casefold() for t in name.tokens) not in self.glued:
            return None
        out, pos = [], name.start
        for token in name.tokens:
            ref = self.resolve_single(token)
            if ref is not None:
                out.append((pos, pos + len(token), ref))
            pos += len(token) + 1
        return out

    def surnames(self) -> set[str]:
        """Casefolded surnames that name one person here (months and weekdays never do)."""
        return {w for w, refs in self.by_surname.items() if len(refs) == 1 and w not in _MONTHS_AND_DAYS}


class PersonIndex:
    """Every full person name of the run (and the warehouse), with their canonical order."""

    def __init__(self, gaz: Gazetteer, prior: list[EntityRef]):
        self.gaz = gaz
        self.prior = prior
        self._forms = Counter()
        self._original = {}
        self._article_forms = defaultdict(list)
        self._single_words = Counter()
        self._canonical = {}
        self._articles = {}
        self._run_by_surname = defaultdict(set)
        self._refs: dict[str, EntityRef] = {}
        self._final = False
        self._run_surname_cache: set[str] | None = None
        for ref in prior:
            tokens = tuple(ref.name.split())
            self._original.setdefault(_fold(tokens), tokens)

    def add_full_name(self, tokens: tuple[str, ...], article_id: str) -> None:
        folded = _fold(tokens)
        self._forms[folded] += 1
        self._original.setdefault(folded, tokens)
        self._article_forms[article_id].append(folded)

    def add_single_word(self, word: str) -> None:
        self._single_words[word.casefold()] += 1

    def finalise(self) -> None:
        if self._final:
            return
        self._final = True
        prior_forms = {_fold(tuple(ref.name.split())) for ref in self.prior}
        for folded in list(self._forms):
            self._canonical[folded] = self._order(folded, prior_forms)
        all_canonical = set(self._canonical.values()) | prior_forms
        run_surnames: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for form in all_canonical:
            run_surnames[form[-1]].add(form)
        for article_id, forms in self._article_forms.items():
            canon = {self._canonical[f] for f in forms}
            surnames: dict[str, set[tuple[str, ...]]] = defaultdict(set)
            for form in canon:
                surnames[form[-1]].add(form)
            glued = {
                form
                for form in canon
                if len(form) == 2
                and all(tok in surnames and any(other != form for other in surnames[tok]) for tok in form)
            }
            by_surname: dict[str, list[EntityRef]] = {}
            for surname, forms_with in surnames.items():
                real = sorted(f for f in forms_with if f not in glued)
                if real:
                    by_surname[surname] = [self._ref(f) for f in real]
            # record glued spans under their original (unordered) form as written in the text
            glued_written = {f for f in forms if self._canonical[f] in glued}
            self._articles[article_id] = ArticlePeople(by_surname, glued_written)
            for form in canon - glued:
                self._run_by_surname[form[-1]].add(" ".join(form))
        for ref in self.prior:
            tokens = _fold(tuple(ref.name.split()))
            if len(tokens) >= 2:
                self._run_by_surname[tokens[-1]].add(" ".join(tokens))

    def _order(self, folded: tuple[str, ...], prior_forms: set[tuple[str, ...]]) -> tuple[str, ...]:
        if len(folded) != 2:
            return folded
        reverse = (folded[1], folded[0])
        japanese = self.gaz.japanese_family_names
        if reverse in self._forms or reverse in prior_forms:
            alone_now = self._single_words[folded[-1]]
            alone_reverse = self._single_words[reverse[-1]]
            if alone_now != alone_reverse:
                return folded if alone_now > alone_reverse else reverse
            if reverse in prior_forms:
                return reverse  # the warehouse already holds this person under the other order
            if folded[0] in japanese and folded[1] not in japanese:
                return reverse
            if reverse[0] in japanese and reverse[1] not in japanese:
                return folded
            return (
                min(folded, reverse)
                if self._forms[folded] == self._forms[reverse]
                else max((folded, reverse), key=lambda f: self._forms[f])
            )
        if (
            folded[0] in japanese
            and folded[1] not in japanese
            and folded[0] not in self.gaz.keep_family_first
        ):
            return reverse
        return folded

    def _ref(self, canonical: tuple[str, ...]) -> EntityRef:
        key = " ".join(canonical)
        ref = self._refs.get(key)
        if ref is None:
            display = self._display(canonical)
            known = self.gaz.people.get(alias_key(display))
            ref = known or EntityRef(display, "PERSON", kind="person")
            for prior in self.prior:
                if alias_key(prior.name) == alias_key(display):
                    ref = prior
                    break
            self._refs[key] = ref
        return ref

    def _display(self, canonical: tuple[str, ...]) -> str:
        original = self._original.get(canonical)
        if original is None:
            # reordered: capitalisation comes from the form actually written
            reverse = self._original.get(tuple(reversed(canonical)))
            original = tuple(reversed(reverse)) if reverse else tuple(t.title() for t in canonical)
        return " ".join(original)

    def canonical(self, tokens: tuple[str, ...]) -> EntityRef | None:
        folded = _fold(tokens)
        canonical = self._canonical.get(folded)
        if canonical is None:
            return None
        return self._ref(canonical)

    def article_index(self, article_id: str) -> ArticlePeople:
        return self._articles.get(article_id) or ArticlePeople({}, set())

    def run_surnames(self, gaz: Gazetteer) -> set[str]:
        """Surnames that name exactly one person in the run and nothing in the gazetteer."""
        if self._run_surname_cache is None:
            # this run's people only: the warehouse's thousands of surnames would match common words
            names_by_surname: dict[str, set[str]] = defaultdict(set)
            for article in self._articles.values():
                for surname, refs in article.by_surname.items():
                    names_by_surname[surname].update(ref.name for ref in refs)
            self._run_surname_cache = {
                w
                for w, names in names_by_surname.items()
                if len(names) == 1 and gaz.lookup(w) is None and len(w) > 2 and w not in _MONTHS_AND_DAYS
            }
        return self._run_surname_cache

    def resolve_single_in_run(self, word: str) -> EntityRef | None:
        key = alias_key(word)
        names = self._run_by_surname.get(key, set())
        if len(names) == 1:
            return self._ref(tuple(next(iter(names)).split()))
        return self.gaz.people.get(key)


def _fold(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t.casefold() for t in tokens)
