CREATE TABLE IF NOT EXISTS entity_mentions (
    article_id      VARCHAR NOT NULL,
    entity_id       VARCHAR NOT NULL,
    mention         VARCHAR NOT NULL,
    label           VARCHAR NOT NULL,  -- spaCy label of the mention
    sentence_index  INTEGER NOT NULL,
    start_char      INTEGER NOT NULL,
    end_char        INTEGER NOT NULL
);
