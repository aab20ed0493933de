CREATE TABLE IF NOT EXISTS stories (
    story_id       VARCHAR NOT NULL,
    title          VARCHAR,
    first_seen     TIMESTAMP WITH TIME ZONE,
    last_seen      TIMESTAMP WITH TIME ZONE,
    article_count  INTEGER NOT NULL
);
