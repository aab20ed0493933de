"""Validation internals.

`rules` holds the pure pandas domain rules (no Great Expectations import), `expectations`
wraps them as GX custom Expectation classes (imports GX, so import it only inside
functions; `data_docs` too), `data_docs` builds the bounded Data Docs site. The public API is
`flows.stages.validate`.
"""
