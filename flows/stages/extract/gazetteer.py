"""The bundled gazetteer: canonical names, types, ISO codes and Wikidata ids.

Everything comes from the versioned files under `data/` (see data/MANIFEST.json);
`load_gazetteer()` reads them once per process on first use, never at import.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from flows.records import content_key
from flows.stages.extract.build_gazetteer import DATA_DIR, read_tsv, split_list


def entity_id_for(entity_type: str, name: str) -> str:
    """Stable id from type + canonical name, the same in every run."""
    return content_key("entity", entity_type, name)


@dataclass(frozen=True, slots=True)
class EntityRef:
    """One canonical entity as the entities table stores it."""

    name: str
    type: str  # PERSON | ORG | GPE | LOC | NORP | FAC | EVENT | LAW | MISC
    country_code: str | None = None
    wikidata_id: str | None = None
    # state | bloc | igo | alliance | think-tank | government | city | facility | region | nation | person;
    # None for names the gazetteer does not know. Not stored; it steers party and place rules.
    kind: str | None = None

    @property
    def entity_id(self) -> str:
        return entity_id_for(self.type, self.name)

    @property
    def is_state(self) -> bool:
        return self.kind == "state"


@dataclass(slots=True)
class Gazetteer:
    version: str
    # casefolded alias (without a leading "the ") -> entity
    by_alias: dict[str, EntityRef] = field(default_factory=dict)
    # casefolded demonym -> state
    by_demonym: dict[str, EntityRef] = field(default_factory=dict)
    # casefolded capital or seat of government -> state it can stand for
    government_seat: dict[str, EntityRef] = field(default_factory=dict)
    # casefolded capital -> the city as a place
    capital_place: dict[str, EntityRef] = field(default_factory=dict)
    people: dict[str, EntityRef] = field(default_factory=dict)  # casefolded alias -> person
    titles: tuple[str, ...] = ()
    japanese_family_names: frozenset[str] = frozenset()
    keep_family_first: frozenset[str] = frozenset()
    boilerplate: re.Pattern[str] | None = None
    generic_norp: frozenset[str] = frozenset()
    # aliases of organisations that are matched in raw text, longest first
    text_pattern: re.Pattern[str] | None = None

    def lookup(self, text: str) -> EntityRef | None:
        key = alias_key(text)
        return self.by_alias.get(key) or self.people.get(key)


def alias_key(text: str) -> str:
    text = re.sub(r"\s+", " ", text.strip()).casefold()
    text = re.sub(r"^the ", "", text)
    text = re.sub(r"(['’]s|['’])$", "", text).strip()
    return text.rstrip(".")  # "U.S." and "U.S" (a span cut before a hyphen) are one key


@lru_cache(maxsize=1)
def load_gazetteer(data_dir: Path = DATA_DIR) -> Gazetteer:
    manifest = json.loads((data_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    gaz = Gazetteer(version=manifest["gazetteer_version"])

    def add_alias(alias: str, ref: EntityRef) -> None:
        # The first writer wins so curated names are never shadowed by a later file's alias.
        gaz.by_alias.setdefault(alias_key(alias), ref)

    for row in read_tsv(data_dir / "countries.tsv"):
        ref = EntityRef(row["canonical"], "GPE", row["alpha3"], row["wikidata"] or None, "state")
        for alias in [row["canonical"], *split_list(row["aliases"])]:
            add_alias(alias, ref)
        for demonym in split_list(row["demonyms"]):
            gaz.by_demonym.setdefault(demonym.casefold(), ref)
        for seat in split_list(row["capitals"]):
            gaz.government_seat.setdefault(alias_key(seat), ref)
    for row in read_tsv(data_dir / "places.tsv"):
        ref = EntityRef(row["canonical"], row["type"], None, row["wikidata"] or None, row["kind"])
        for alias in [row["canonical"], *split_list(row["aliases"])]:
            add_alias(alias, ref)
    text_aliases: list[str] = []
    for row in read_tsv(data_dir / "organisations.tsv"):
        ref = EntityRef(row["canonical"], "ORG", None, row["wikidata"] or None, row["kind"])
        aliases = [row["canonical"], *split_list(row["aliases"])]
        for alias in aliases:
            add_alias(alias, ref)
        for seat in split_list(row.get("seats")):
            gaz.government_seat.setdefault(alias_key(seat), ref)
        if row["match_in_text"] == "yes":
            text_aliases.extend(a for a in aliases if not a.lower().startswith("the "))
    for row in read_tsv(data_dir / "people.tsv"):
        ref = EntityRef(row["canonical"], "PERSON", None, row["wikidata"] or None, "person")
        for alias in [row["canonical"], *split_list(row["aliases"])]:
            gaz.people.setdefault(alias_key(alias), ref)
    # A seat of government that is not a listed place is still a city when it is used as a place.
    for seat, _state in gaz.government_seat.items():
        place = gaz.by_alias.get(seat)
        if place is None or place.kind == "state":
            place = EntityRef(_title_case(seat), "GPE", None, None, "city")
        gaz.capital_place[seat] = place

    rules = json.loads((data_dir / "people_rules.json").read_text(encoding="utf-8"))
    gaz.titles = tuple(sorted(rules["titles"], key=len, reverse=True))
    gaz.japanese_family_names = frozenset(rules["japanese_family_names"])
    gaz.keep_family_first = frozenset(rules["keep_family_first"])

    patterns = _data_lines(data_dir / "boilerplate_patterns.txt")
    gaz.generic_norp = frozenset(_data_lines(data_dir / "generic_norp.txt"))
    gaz.boilerplate = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    text_aliases = sorted(set(text_aliases), key=len, reverse=True)
    gaz.text_pattern = re.compile(
        r"(?<![\w-])(?:" + "|".join(re.escape(a) for a in text_aliases) + r")(?![\w-])"
    )
    return gaz


def _title_case(key: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in key.split(" "))


def _data_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
