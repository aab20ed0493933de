-- Canonical events, merged across articles, outlets and runs.
CREATE TABLE IF NOT EXISTS events (
    event_id         VARCHAR NOT NULL,
    event_type       VARCHAR NOT NULL,  -- AGREE | MEET | EXERCISE | POLICY
    name             VARCHAR,
    short_name       VARCHAR,
    status           VARCHAR,           -- planned | signed | negotiating | rejected | occurred
    event_date       DATE,
    location         VARCHAR,
    signatories      VARCHAR[],         -- canonical names of parties
    signatory_codes  VARCHAR[],         -- ISO alpha-3 codes where parties are states
    signers          VARCHAR[],         -- canonical names of persons who sign
    story_id         VARCHAR,
    article_count    INTEGER NOT NULL,
    source_count     INTEGER NOT NULL,
    first_seen       TIMESTAMP WITH TIME ZONE,
    last_seen        TIMESTAMP WITH TIME ZONE
);
