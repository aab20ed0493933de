CREATE TABLE IF NOT EXISTS event_mentions (
    event_id           VARCHAR NOT NULL,
    article_id         VARCHAR NOT NULL,
    sentence           VARCHAR NOT NULL,
    start_char         INTEGER NOT NULL,
    end_char           INTEGER NOT NULL,
    status_in_article  VARCHAR,
    confidence         DOUBLE NOT NULL
);
