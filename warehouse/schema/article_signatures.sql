-- MinHash signatures of first copies, so a near duplicate is caught in a later run.
CREATE TABLE IF NOT EXISTS article_signatures (
    article_id  VARCHAR NOT NULL,
    num_perm    INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    shingle_size INTEGER NOT NULL,
    signature   UBIGINT[] NOT NULL
);
