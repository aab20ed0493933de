"""Regular expressions for event triggers, status cues and clause structure (English news prose).

Kept in one module so the rules can be read, and tuned, together.
"""

from __future__ import annotations

import re

# Agreement nouns. "deal with" (the verb) and "a great deal" are not agreements.
AGREEMENT_NOUN = re.compile(
    r"(?<![\w-])(?:agreements?|accords?|treaty|treaties|pacts?|memorand(?:um|a) of understanding|MoUs?|MOUs?|"
    r"(?<!great )(?<!good )deals?(?!\s+with\b))(?![\w-])",
    re.IGNORECASE,
)
# Capitalised heads that end an agreement's proper name.
NAME_HEADS = frozenset(
    {
        "Agreement",
        "Agreements",
        "Accord",
        "Accords",
        "Treaty",
        "Pact",
        "Deal",
        "Convention",
        "Protocol",
        "Arrangement",
        "Memorandum",
    }
)
NAME_CONNECTORS = frozenset({"of", "and", "on", "for", "the", "de", "to", "&"})
# A head word standing alone (not inside a longer [\w'’&-] run, as WORD below tokenises): a sentence
# without one has no agreement name, so find_agreement_names can skip tokenising it.
NAME_HEAD_PRESENT = re.compile(
    r"(?<![\w'’&-])(?:" + "|".join(re.escape(h) for h in sorted(NAME_HEADS, key=len, reverse=True))
    + r")(?![\w'’&-])"
)
# Capitalised words that open a sentence or a phrase but are never part of a name.
NAME_STOP = frozenset(
    {
        "The",
        "This",
        "That",
        "These",
        "Those",
        "A",
        "An",
        "Its",
        "Their",
        "Our",
        "His",
        "Her",
        "Any",
        "Every",
        "Each",
        "Both",
        "Such",
        "New",
        "Under",
        "In",
        "On",
        "At",
        "For",
        "With",
        "By",
        "From",
        "As",
        "After",
        "Before",
        "While",
        "When",
        "But",
        "And",
        "Or",
        "If",
        "Since",
        "Signing",
        "What",
        "Landmark",
        "Historic",
        "Last",
        "Next",
        "Mr",
        "Ms",
        "Mrs",
        "Dr",
        "It",
        "To",
        "Of",
        "Why",
        "How",
        "Whether",
        "Then",
        "So",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    }
)
ACRONYM_AFTER = re.compile(r"^\s*\(([A-Z][A-Za-z0-9&-]{1,9})\)")
# words for name scanning: "U.S." stays one word; a sentence's final full stop is not part of a word
WORD = re.compile(r"(?:[A-Za-z]\.){2,}|[\w'’&-]+|[–—]")

DETERMINER_BEFORE = re.compile(
    r"\b(the|this|that|these|those|a|an|its|their|our|his|her|another|such|any)\s+((?:[^\s.;:!?]+\s+){0,6})$",
    re.IGNORECASE,
)
DISTINCT_ADJECTIVES = re.compile(
    r"\b(similar|another|separate|previous|earlier|existing|older|own|other)\b", re.I
)

# Status cues, most specific first; a later pattern never matches inside an earlier one's span.
STATUS_CUES: list[tuple[str, re.Pattern[str]]] = [
    (
        "rejected",
        re.compile(
            r"\b(reject(?:ed|s|ing)?|scrap(?:ped|s|ping)?|vetoe?d?|tore up|torn up|walk(?:ed)? away from|"
            r"pull(?:ed|s|ing)? out of|withdr[ae]w from|withdrawn from|withdrawing from|"
            r"(?:refus(?:ed|es|al|ing)|unwilling(?:ness)?|declined?|declining) to (?:sign|ratify|join)|"
            r"voted (?:down|against)|collapsed|suspend(?:ed|s))\b",
            re.I,
        ),
    ),
    (
        "negotiating",
        re.compile(
            r"\b(agreed to (?:start|begin|open|launch|resume) (?:talks|negotiations)|negotiat\w+"
            r"|talks (?:on|over|about|for)|"
            r"in talks|in the works|(?:being |were |was )?discussed|discussing|discussions?|consider(?:ing"
            r"|s|ed)|"
            r"preliminary stages?|under negotiation|proposed|exploring)\b",
            re.I,
        ),
    ),
    (
        "planned",
        re.compile(
            r"\b((?:will|would|shall|to|plans? to|planning to|set to|due to|expected to|poised to"
            r"|scheduled to|"
            r"slated to|likely to|ready to|going to)\s+(?:formally\s+|also\s+|soon\s+)?(?:sign|ink|seal"
            r"|conclude|"
            r"finali[sz]e|unveil)|(?:to|will|would|could|should|shall|may|might) be (?:formally\s+)?signed|"
            r"(?:is|are) (?:set|due|expected|scheduled) to be signed|"
            r"(?:once|after|when|until|before|if)\s+(?:[\w'’-]+\s+){0,6}"
            r"(?:is|are|has been|have been)\s+signed)\b",
            re.I,
        ),
    ),
    (
        "signed",
        re.compile(
            r"\b((?:has|have|had|was|were)\s+(?:been\s+|now\s+|formally\s+|also\s+)?(?:signed|inked|sealed"
            r"|concluded|"
            r"struck|reached|finali[sz]ed|ratified)|signed|inked|sealed|clinched|struck|ratified|"
            r"(?:reached|concluded) (?:an?|the|their|its) (?:[\w-]+ ){0,3}"
            r"(?:deal|agreement|accord|pact|treaty)|formali[sz]ed|"
            r"signing (?:the|a|an) (?:[\w-]+ ){0,2}(?:deal|agreement|accord|pact|treaty))\b",
            re.I,
        ),
    ),
]
STATUS_PROGRESS = {"negotiating": 1, "planned": 2, "signed": 3, "occurred": 3, "rejected": 4}

# Verbs whose subject is a party: "X and Y signed / will sign / agreed / have an agreement".
PARTY_VERB = re.compile(
    r"\b(sign(?:s|ed|ing)?|ink(?:s|ed)?|seal(?:s|ed)?|agree(?:s|d)?|conclude[sd]?|struck|strike|reach(?:ed"
    r"|es)?|"
    r"negotiat\w+|consider(?:s|ed|ing)?|have|has|had|forg(?:e|ed|es)|clinch(?:ed)?|are set to|is set to|"
    r"will|plan(?:s|ned)? to|launch(?:ed|es)?|unveil(?:ed|s)?|reject(?:s|ed)?|ratif(?:y|ies|ied)|approv(?:e"
    r"|es|ed)|"
    r"withdr[ae]w|pull(?:s|ed)? out|scrap(?:s|ped)?|quit|exit(?:s|ed)?|renew(?:s|ed)?|extend(?:s|ed)?)\b",
    re.IGNORECASE,
)
SPEECH_VERB = re.compile(
    r"\b(said|says|say|told|tells|added|adds|noted|notes|warned|warns|stressed|argued|explained|described|"
    r"called|calls|wrote|writes|according to|insisted|claimed|believes|thinks)\b",
    re.IGNORECASE,
)
SIGN_VERB = re.compile(
    r"\b(sign(?:s|ed)?|signing(?! of)|ink(?:s|ed)?|to be signed)\b(?!\s+(?:of|up|language))", re.IGNORECASE
)
SIGNED_BY = re.compile(r"\b(?:signed|inked)\s+by\s+$", re.IGNORECASE)
# "the two countries", "both nations", "the countries": a pair the context makes clear.
PAIR_PHRASE = re.compile(
    r"\b(?:the two|both(?: the)?|the)\s+(countries|nations|sides|governments|allies|states|partners"
    r"|neighbours|"
    r"neighbors|leaders)\b",
    re.IGNORECASE,
)
# A party is not one after these words ("pressure from China", "a war over Taiwan").
NOT_PARTY_BEFORE = re.compile(
    r"\b(from|against|over|amid|about|toward|towards|despite|regarding|versus|vs|than|like|threat|threats|"
    r"pressure|concern|concerns|aggression|invasion|posed by|deter|counter|containing|including|excluding)"
    r"\s+(?:the\s+)?(?:[\w’'-]+\s+){0,1}$",
    re.IGNORECASE,
)
# In the fallback (no explicit pattern) places and objects after a preposition are not parties either.
NOT_PARTY_BEFORE_WEAK = re.compile(
    r"\b(to|in|of|at|into|on|for|across|with)\s+(?:the\s+)?(?:[\w’'-]+\s+){0,1}$", re.I
)
# "in London", "at the historic Tower of London", "in the iconic setting of the Tower of London"
PLACE_BEFORE = re.compile(
    r"\b(?:in|at|visit to|trip to|visiting)\s+(?:the\s+)?(?:(?!and\b|or\b|but\b|that\b"
    r"|which\b)[a-z][a-z'’-]*(?<!ed)\s+){0,3}"
    r"(?:of\s+(?:the\s+)?)?$"
)
CLAUSE_BREAK = re.compile(r"[,;:()]|\s[–—-]\s|\bwhich\b|\bwho\b|\bwhile\b|\bbut\b")
PRONOUN_SUBJECT = re.compile(r"^\s*(It|They|This|That|The (?:deal|agreement|pact|accord|treaty))\b")

MEET_TRIGGER = re.compile(
    r"\b(met|meet|meets|meeting|summit|held talks|hold talks|holds talks|visited|visit(?:s|ing)?|hosted"
    r"|hosts|host|"
    r"received|receives|welcomed|welcomes)\b",
    re.IGNORECASE,
)
EXERCISE_TRIGGER = re.compile(
    r"(?<!to )\b(exercises?|drills?|war ?games|manoeuvres|maneuvers)\b(?!\s+(?:caution|restraint|control|"
    r"influence|power|their|its|the)\b)",
    re.IGNORECASE,
)
# "troops from X" is how exercise participants are named; "tension with China" is context.
EXERCISE_NOT_PARTY_BEFORE = re.compile(
    r"\b(amid|against|over|with|toward|towards|about|despite|than|versus|threat|threats|tension|tensions|"
    r"pressure|deter|counter)\s+(?:the\s+)?(?:[\w’'-]+\s+){0,1}$",
    re.IGNORECASE,
)
EXERCISE_NAME_AFTER = re.compile(r"^\s+((?:[A-Z][\w-]*|\d{2,4})(?:\s+(?:[A-Z][\w-]*|\d{2,4})){0,3})")
# "The exercise, called Arctic Lantern, …", "a drill dubbed Iron Shield"
EXERCISE_CALLED = re.compile(
    r"^,?\s+(?:called|named|dubbed|code-?named|known as)\s+"
    r"((?:[A-Z][\w-]*|\d{2,4})(?:\s+(?:[A-Z][\w-]*|\d{2,4})){0,3})"
)
# Habits and opinions about exercises in general, not one exercise.
HABITUAL = re.compile(
    r"\b(previously|regularly|routinely|often|frequently|usually|criticis(?:ed|es)|criticiz(?:ed|es)"
    r"|condemn(?:ed|s)|protest(?:ed|s)|opposes|opposed)\b",
    re.IGNORECASE,
)
EXERCISE_ACTION = re.compile(
    r"\b(held|hold|holds|holding|began|begin|begins|conduct(?:ed|s|ing)?|participat(?:ed|es|ing)|took part|"
    r"take part|launch(?:ed|es)?|stag(?:ed|es|ing)|start(?:ed|s)|wrapped up|conclud(?:ed|es)|kicked off"
    r"|joined|"
    r"join|saw|involv(?:ed|ing|es))\b",
    re.IGNORECASE,
)
NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
POLICY = re.compile(
    r"\b(raise|raising|raised|increase|increasing|increased|hike|hiking|hiked|boost|boosting|boosted|double|"
    r"doubling|doubled|lift|lifting|lifted|cut|cutting|reduce|reducing|reduced|spend|spending)\b"
    r"(?P<object>(?:\s+(?:its|their|the|national|annual|military|defence|defense|health|education|aid"
    r"|climate|"
    r"research|foreign|spending|budget|expenditure|outlays?|investment|emissions|taxes|tax))*)"
    r"\s+(?:to|by)\s+(?:about\s+|around\s+|at least\s+|roughly\s+)?"
    r"(?P<amount>(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten)(?:[\s-]?(?:%|per ?cent"
    r"|percent))"
    r"(?:\s+of\s+(?:GDP|gross domestic product|national income|economic output))?|[$£€¥]\s?\d[\d.,]*\s?"
    r"(?:bn|billion|m|million|tn|trillion)?)"
    r"(?:\s+(?:by|in|from)\s+(?P<year>\d{4}))?",
    re.IGNORECASE,
)
GOVERNMENT_WORDS = re.compile(
    r"\b(the (?:government|administration|cabinet|ministry)|ministers|officials)\b", re.I
)
