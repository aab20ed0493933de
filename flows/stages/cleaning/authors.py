"""A byline as a list of persons: "By JANE ROE and John Doe, Health Correspondent, AP" ->
["Jane Roe", "John Doe"].

What is removed: a leading "By" (and "Written by", "Par", "Von", "Por", "Door", "Di"), the
names of news agencies and wire services (also when glued to a name, as some pages render
"JILL LAWLESSAssociated Press"), job titles ("Senior Reporter", "Staff Writer", ...),
dates and times ("March 25, 2015", "Updated 3:46 PM"), and anything that does not read as
a name (digits, @, URLs, more than `MAX_NAME_WORDS` words).

Names are split on ";", ",", "&", "|", "/", and the word for "and" in the languages we
detect ("and", "und", "et", "y", "e", "en", "i", "och", "og"). A name written all in capitals
or all in lower case is put in title case ("JANE O'ROE-SMITH" -> "Jane O'Roe-Smith");
mixed case is kept as written ("Michiel de Jong", "DeShawn McDonald").
"""

from __future__ import annotations

import re

# A person's name has at most this many words ("Juan Carlos de la Vega" is five).
MAX_NAME_WORDS = 5
_BY = re.compile(r"^\s*(?:(?:written|posted|reported|words|story|text|photos?)\s+)?"
                 r"(?:by|von|par|por|door|di|av|af)\b\s*:?\s*", re.IGNORECASE)
# News agencies and wire services: credited in bylines, but not persons.
_AGENCIES = (
    r"associated press|the associated press|ap|reuters|thomson reuters|afp|agence france[- ]presse|"
    r"bloomberg(?: news)?|pa(?: media)?|press association|dpa|efe|ansa|xinhua|kyodo(?: news)?|upi|"
    r"united press international|tass|anadolu(?: agency)?|yonhap|aap|cp|the canadian press|"
    r"(?:cnn|bbc|nbc|abc|cbs) news|cnn|bbc|ians|pti|ani|news wires?|wires?|wire services?|agencies|"
    r"staff|news desk|web desk|editorial (?:staff|board|team)"
)
_AGENCY_ONLY = re.compile(rf"^(?:{_AGENCIES})$", re.IGNORECASE)
# An agency name glued to the end of a name in upper case: "JILL LAWLESSAssociated Press".
_GLUED_AGENCY = re.compile(r"(?<=[A-Z])(?:Associated Press|Reuters|Bloomberg|AFP|Agence France-Presse)$")
_ROLE_WORDS = (
    r"correspondent|reporter|editor|writer|columnist|contributor|producer|photographer|journalist|"
    r"analyst|critic|staff|intern|author|editor-in-chief|chief|senior|deputy|special|freelance|"
    r"correspondante?|journaliste|r[ée]dact(?:eur|rice)|envoy[ée]e? sp[ée]ciale?|corresponsal|periodista|"
    r"redakteur(?:in)?|korrespondent(?:in)?|giornalista|inviat[oa]|jornalista|rep[óo]rter|colunista"
)
_ROLE = re.compile(rf"\b(?:{_ROLE_WORDS})\b", re.IGNORECASE)
# Words that make a byline part an organisation or a section, not a person.
_ORGANISATION = re.compile(
    r"\b(?:project|union|institute|university|cent(?:er|re)|foundation|association|society|council|"
    r"committee|department|ministry|group|network|magazine|newspaper|times|post|journal|news|media|"
    r"press|online|daily|weekly|tribune|herald|gazette|desk|team|bureau)\b", re.IGNORECASE)
# Degrees and credentials after a name: "Jane Roe, MD".
_CREDENTIAL = re.compile(r"^(?:ma|ms|msc|mba|md|phd|ph\.d|rn|mph|bsc|ba|jd|esq|jr|sr|ii|iii)\.?$", re.IGNORECASE)
# An acronym of three or more capitals beside mixed-case words names an organisation ("ACLU Speech").
_ACRONYM = re.compile(r"\b[A-Z]{3,}\b")
_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
# A date or time after the names: "March 25, 2015", "25 Mar 2015", "Updated 3:46 PM".
_DATE_TAIL = re.compile(rf"\s*(?:\b(?:updated|published|posted)\b.*|\b(?:{_MONTHS})\.?\s+\d.*|\d.*)$",
                        re.IGNORECASE)
_SEPARATORS = re.compile(r"\s*(?:[;,&|/\n]|\b(?:and|und|et|y|e|en|i|och|og)\b)\s*", re.IGNORECASE)
_NOT_A_NAME = re.compile(r"[\d@#<>{}\[\]=_\\]|https?|www\.|\.[a-z]{2,4}\b", re.IGNORECASE)
_WORD_PART = re.compile(r"[^\W\d_]+", re.UNICODE)


def split_authors(byline: str | None) -> list[str]:
    """The persons a byline or author field names, in order, each once (see module doc)."""
    if not byline:
        return []
    text = " ".join(byline.split())
    names: list[str] = []
    seen: set[str] = set()
    for part in _SEPARATORS.split(text):
        part = _GLUED_AGENCY.sub("", part.strip())
        if names and _is_affiliation(part):
            break  # "Jane Roe, Policy Unit, Big Institute": the rest describes her, names no one
        name = _person(part)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


def _is_affiliation(part: str) -> bool:
    part = part.strip()
    return bool(_ROLE.search(part) or _ORGANISATION.search(part)
                or (_ACRONYM.search(part) and not part.isupper()))


def _person(part: str) -> str | None:
    part = _BY.sub("", part)
    part = _DATE_TAIL.sub("", part)
    # Parenthesised notes go: "(avec ...)" and "(stevenhgm)" are not the name.
    part = re.sub(r"\s*\(.*?\)\s*", " ", part)
    part = part.strip(" .:-\u2013\u2014\u00b7\u2022|'\"")
    if (not part or _AGENCY_ONLY.match(part) or _CREDENTIAL.match(part) or _is_affiliation(part)
            or _NOT_A_NAME.search(part)):
        return None
    if not any(len(word.strip(".")) >= 2 for word in part.split()):
        return None  # initials alone ("J J") name no one
    if len(part.split()) > MAX_NAME_WORDS:
        return None
    return normalise_case(part)


def normalise_case(name: str) -> str:
    """Title case for a name written all in capitals or all in lower case; else as written."""
    cased = [c for c in name if c.isalpha() and (c.isupper() or c.islower())]
    if not cased or not (all(c.isupper() for c in cased) or all(c.islower() for c in cased)):
        return name
    # Capitalise each run of letters: "o'roe-smith" -> "O'Roe-Smith".
    return _WORD_PART.sub(lambda m: m.group().capitalize(), name.lower())
