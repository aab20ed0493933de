"""Benchmarks for wirelake: `python -m bench` (or `make bench`).

Every target is a ratio of two things measured in the same bench run, so a slow or
busy machine moves both sides together. The corpora are read from `../shared/corpora`
beside the repo at run time; without them the bench says so and exits 0.

Modules: `corpora` (reading and exporting the corpora), `processes` (peak memory of a
process tree), `prefect_server` (one background API server for the whole bench run),
`pipeline` (one `wirelake` run in a subprocess), `baselines` (spaCy NER alone,
trafilatura alone), `report` (ratios, targets, comparison, Markdown; pure) and
`machine` (what the numbers were measured on).
"""
