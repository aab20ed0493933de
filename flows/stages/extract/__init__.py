"""The extract stage: entities, events, quotes and stories from cleaned articles.

Public interface (pure; no Prefect):

    load_nlp(model) -> spacy.Language         # cached per model name; NER + sentencizer only
    extract(articles, cfg, prior=None, nlp=None) -> ExtractResult
    start_ner(cfg)                             # start the NER child process now (see ner_process.py)
    ExtractPrior.from_arrow(tables) / ExtractPrior.empty()
    ExtractResult: one pyarrow.Table per extraction table + rejects + counts

Nothing is loaded at import time: the spaCy model and the gazetteer load on first use.
"""

from flows.config import ExtractConfig
from flows.stages.extract import ner_process
from flows.stages.extract.nlp import load_nlp
from flows.stages.extract.pipeline import extract
from flows.stages.extract.prior import ExtractPrior
from flows.stages.extract.tables import SCHEMAS, TABLE_NAMES, ExtractResult

__all__ = ["SCHEMAS", "TABLE_NAMES", "ExtractPrior", "ExtractResult", "extract", "load_nlp", "start_ner"]


def start_ner(cfg: ExtractConfig) -> None:
    """Start spaCy's NER process (and its model load) now, so it is ready when extract begins."""
    if cfg.ner_in_child_process:
        ner_process.start(cfg.spacy_model, cfg.batch_size, cfg.n_process)
