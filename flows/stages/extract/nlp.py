"""spaCy loading and the one NER pass over a batch of articles.

Only `ner` runs. The tagger, attribute ruler and lemmatizer change no entity and cost
about 30%; nothing here uses the parser; and in en_core_web_sm the NER component embeds
its own tokens, so the shared `tok2vec` (which feeds only tagger and parser) is excluded
too: same entities on 200 BBC articles, about 40% less time.
Sentence boundaries come from the rule-based `sentencizer`, which is nearly free.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

# Components that never change an entity span or label.
UNNEEDED_COMPONENTS = ("tagger", "attribute_ruler", "lemmatizer", "parser", "senter", "morphologizer")
# Excluded only when no remaining component listens to it (models whose NER embeds its own tokens).
SHARED_EMBEDDING = "tok2vec"
# Texts this long or longer are rejected before NER (the extract stage checks it without loading
# spaCy); `load_nlp` sets the pipeline's `max_length` to the same value (spaCy's own default).
NER_MAX_CHARS = 1_000_000
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "LAW"})


@lru_cache(maxsize=4)
def load_nlp(model: str):
    """The spaCy pipeline for `model`, loaded once per process and model name."""
    import spacy  # imported here so importing the stage never loads spaCy

    try:
        nlp = spacy.load(model, exclude=[c for c in UNNEEDED_COMPONENTS if c != "parser"], disable=["parser"])
    except OSError as exc:
        raise ValueError(
            f"spaCy model {model!r} is not installed ({exc}); install it (e.g. `uv pip install {model}`) "
            "or set extract.spacy_model"
        ) from exc
    if SHARED_EMBEDDING in nlp.pipe_names and not _has_listeners(nlp):
        nlp.remove_pipe(SHARED_EMBEDDING)
    if "ner" not in nlp.pipe_names:
        raise ValueError(f"spaCy model {model!r} has no 'ner' component; choose a model with NER")
    if "sentencizer" not in nlp.pipe_names:
        nlp.add_pipe("sentencizer", first=True)
    nlp.max_length = NER_MAX_CHARS
    return nlp


def _has_listeners(nlp) -> bool:
    """Does an enabled component read the shared tok2vec (a Tok2VecListener)?"""
    tok2vec = nlp.get_pipe(SHARED_EMBEDDING)
    listening = set(getattr(tok2vec, "listening_components", []) or [])
    return bool(listening & set(nlp.pipe_names))


@dataclass(slots=True)
class NerSpan:
    start: int
    end: int
    text: str
    label: str


@dataclass(slots=True)
class NerResult:
    sentences: list[tuple[int, int]]  # character spans, split further at line breaks
    entities: list[NerSpan]  # ENTITY_LABELS only
    dates: list[NerSpan]  # DATE and TIME spans, for date resolution


def run_ner(nlp, texts: Iterable[str], batch_size: int, n_process: int) -> Iterator[NerResult]:
    for doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
        text = doc.text
        sentences: list[tuple[int, int]] = []
        for sent in doc.sents:
            sentences.extend(_split_lines(text, sent.start_char, sent.end_char))
        entities, dates = [], []
        for ent in doc.ents:
            span = NerSpan(ent.start_char, ent.end_char, ent.text, ent.label_)
            if ent.label_ in ENTITY_LABELS:
                entities.append(span)
            elif ent.label_ in ("DATE", "TIME"):
                dates.append(span)
        yield NerResult(sentences, entities, dates)


HARD_WRAP_MIN_CHARS = 50


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A sentence never spans a paragraph break, nor a line break after a line that is complete
    (a headline, a list line, one ending in a stop). A long line that runs on without a stop is
    hard-wrapped prose (newswire copy) and continues on the next line; so does a short one whose
    next line opens in lower case (a wire story's first line, shortened by the removed dateline)."""
    pieces, piece_start = [], start
    for pos in range(start, end):
        if text[pos] == "\n":
            line = text[text.rfind("\n", 0, pos) + 1 : pos].rstrip()
            following = text[pos + 1 : pos + 80].lstrip(" \t")
            wrapped = (
                (len(line) >= HARD_WRAP_MIN_CHARS or following[:1].islower())
                and line[-1:] not in '.!?:"”’)'
                and following[:1] not in ("\n", "")
            )
            if wrapped:
                continue
            if text[piece_start:pos].strip():
                pieces.append(_trim(text, piece_start, pos))
            piece_start = pos + 1
    if text[piece_start:end].strip():
        pieces.append(_trim(text, piece_start, end))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
