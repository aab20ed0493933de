-- Which story each article belongs to (one story per article).
CREATE TABLE IF NOT EXISTS article_stories (
    article_id  VARCHAR NOT NULL,
    story_id    VARCHAR NOT NULL
);
