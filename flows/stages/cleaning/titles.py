"""Headlines without the site's name: "Headline | Site", "Site - Headline" -> "Headline".

A title is cut at a separator (" | ", " - ", " – ", " — ", " :: ", " · ", " • ", " » ")
only when the part cut off names the site, which it does when, compared by letters alone
(case, accents, spaces and punctuation ignored), it

* equals the page's `og:site_name` (or a part of it: "Aktuálně.cz - Víte, co se právě
  děje" names the site "Aktuálně.cz"), less a trailing "Inc", "Ltd", ...;
* equals or starts with the host's name ("spiceworks.com" -> "Spiceworks",
  "en.wikipedia.org" -> "Wikipedia, the free encyclopedia"), or equals the host itself;
* is a part that recurs at the same end of the titles of several of one source's pages
  (`recurring_affixes`), which is how a site says its name when nothing else does.

A headline that merely contains a separator ("Brexit - what happens next") keeps it: the
part after it names nothing we know, and at least two words must remain.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from urllib.parse import urlsplit

_SEPARATORS = (" | ", " - ", " \u2013 ", " \u2014 ", " :: ", " \u00b7 ", " \u2022 ", " \u00bb ", " / ")
_SEPARATOR_SPLIT = re.compile("|".join(re.escape(s) for s in _SEPARATORS))
_COMPANY = re.compile(r"[\s,]+(?:inc|ltd|llc|plc|gmbh|s\.?a|corp|co)\.?$", re.IGNORECASE)
# Labels of a host that name no site.
_NOT_SITE_LABELS = frozenset({"www", "m", "mobile", "amp", "en", "news", "com", "org", "net", "co", "uk", "de",
                              "fr", "es", "it", "br", "jp", "cn", "in", "au", "edu", "gov", "blog", "blogs"})
# A host label shorter than this is too likely to begin an ordinary word.
MIN_HOST_LABEL_CHARS = 3
# A recurring affix must be found on at least this many of a source's titles.
MIN_RECURRING_TITLES = 2
MIN_HEADLINE_WORDS = 2


def letters(text: str | None) -> str:
    """Letters and digits only, case-folded and without accents: how site names are compared."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed.casefold() if c.isalnum())


def site_keys(site_name: str | None) -> set[str]:
    """The letter forms a site name is known by: whole, without a company suffix, and each
    of its separator-delimited parts."""
    if not site_name:
        return set()
    names = {site_name, _COMPANY.sub("", site_name), *_SEPARATOR_SPLIT.split(site_name)}
    return {key for name in names if len(key := letters(name)) >= MIN_HOST_LABEL_CHARS}


def host_keys(url: str | None) -> set[str]:
    """The host as letters ("aktualnecz") and its labels that can name a site ("aktualne")."""
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return set()
    labels = [label for label in host.split(".") if label]
    keys = {letters(".".join(labels[i:])) for i in range(len(labels)) if labels[i] not in _NOT_SITE_LABELS}
    keys |= {letters(label) for label in labels
             if label not in _NOT_SITE_LABELS and len(label) >= MIN_HOST_LABEL_CHARS}
    return {key for key in keys if key}


def strip_site_name(title: str, sites: set[str], hosts: set[str] = frozenset(),
                    affixes: set[str] = frozenset()) -> str:
    """`title` less one leading and one trailing part that names the site (see module doc).

    `sites` from `site_keys`, `hosts` from `host_keys`, `affixes` from `recurring_affixes`.
    """
    for _ in range(2):  # "Headline | Section | Site": the site, then a section that is the site too
        for separator in _SEPARATORS:
            head, found, tail = title.rpartition(separator)
            if found and _names_site(tail, sites, hosts, affixes) and _enough(head):
                title = head.strip()
                break
            head, found, tail = title.partition(separator)
            if found and _names_site(head, sites, hosts, affixes) and _enough(tail):
                title = tail.strip()
                break
        else:
            return title
    return title


def _names_site(part: str, sites: set[str], hosts: set[str], affixes: set[str]) -> bool:
    key = letters(part)
    if not key:
        return False
    if key in sites or key in hosts or key in affixes:
        return True
    return any(len(host) >= MIN_HOST_LABEL_CHARS and key.startswith(host) for host in hosts)


def _enough(headline: str) -> bool:
    return len(headline.split()) >= MIN_HEADLINE_WORDS


def has_separator(title: str) -> bool:
    return _SEPARATOR_SPLIT.search(title) is not None


def recurring_affixes(titles: Iterable[str | None]) -> set[str]:
    """Letter forms of first or last title parts shared by several of one source's titles."""
    counts: Counter[tuple[str, str]] = Counter()
    # Distinct titles: copies of one story share their whole headline, not a site name.
    for title in {t for t in titles if t}:
        parts = _SEPARATOR_SPLIT.split(title)
        if len(parts) < 2:
            continue
        counts.update({("first", letters(parts[0])), ("last", letters(parts[-1]))})
    return {key for (_, key), count in counts.items() if key and count >= MIN_RECURRING_TITLES}
