CREATE TABLE IF NOT EXISTS quotes (
    article_id         VARCHAR NOT NULL,
    speaker_entity_id  VARCHAR,
    text               VARCHAR NOT NULL,
    start_char         INTEGER NOT NULL,
    end_char           INTEGER NOT NULL
);
