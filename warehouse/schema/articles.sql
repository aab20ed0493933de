-- Cleaned articles. Duplicates are kept and marked, never dropped.
CREATE TABLE IF NOT EXISTS articles (
    article_id         VARCHAR NOT NULL,  -- content key of (canonical url or uri, content_hash)
    doc_id             VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,
    source             VARCHAR NOT NULL,
    url                VARCHAR,
    title              VARCHAR,
    author             VARCHAR,           -- the persons of `authors` joined with "; "
    published_at       TIMESTAMP WITH TIME ZONE,
    language           VARCHAR,
    dateline           VARCHAR,
    text               VARCHAR NOT NULL,
    word_count         INTEGER NOT NULL,
    content_hash       VARCHAR NOT NULL,
    duplicate_of       VARCHAR,           -- article_id of the first exact copy
    near_duplicate_of  VARCHAR,           -- article_id of the most similar earlier article
    similarity         DOUBLE,            -- estimated Jaccard similarity to near_duplicate_of
    fetched_at         TIMESTAMP WITH TIME ZONE,
    site_name          VARCHAR,
    canonical_url      VARCHAR,
    item_uri           VARCHAR,           -- where in the raw document the article was read (for reprocess)
    authors            VARCHAR[]          -- the persons the byline names, in order (agencies, roles, "By" removed)
);
