"""The extract stage: entities, events, quotes and stories from cleaned articles.

Public interface (pure; no Prefect):

    load_nlp(model) -> spacy.Language         # cached per model name; NER + sentencizer only
    extract(articles, cfg, prior=None, nlp=None) -> ExtractResult
    ExtractPrior.from_arrow(tables) / ExtractPrior.empty()
    ExtractResult: one pyarrow.Table per extraction table + rejects + counts

Nothing is loaded at import time: the spaCy model and the gazetteer load on first use.
"""

from flows.stages.extract.nlp import load_nlp
from flows.stages.extract.pipeline import extract
from flows.stages.extract.prior import ExtractPrior
from flows.stages.extract.tables import SCHEMAS, TABLE_NAMES, ExtractResult

__all__ = ["SCHEMAS", "TABLE_NAMES", "ExtractPrior", "ExtractResult", "extract", "load_nlp"]
