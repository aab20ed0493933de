-- One row per pipeline run (published, rolled back or failed).
CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,   -- ingest | reprocess
    started_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at   TIMESTAMP WITH TIME ZONE,
    status        VARCHAR NOT NULL,   -- published | not_published | failed | no_new_data
    config_hash   VARCHAR NOT NULL,
    config_json   VARCHAR,
    fetched       BIGINT,             -- documents read this run
    rejected      BIGINT,             -- rows written to rejects
    new           BIGINT,             -- articles new to the warehouse
    duplicates    BIGINT,             -- new articles marked exact or near duplicate
    stage_counts  VARCHAR,            -- JSON: per stage rows in/out/dropped and seconds
    message       VARCHAR
);
