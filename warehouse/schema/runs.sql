-- One row per pipeline run (published, rolled back or failed).
CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,   -- ingest | reprocess
    started_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at   TIMESTAMP WITH TIME ZONE,
    status        VARCHAR NOT NULL,   -- published | no_new_data | degraded | not_published | failed
    config_hash   VARCHAR NOT NULL,
    config_json   VARCHAR,
    fetched       BIGINT,             -- documents read this run
    rejected      BIGINT,             -- rows written to rejects
    new           BIGINT,             -- articles new to the warehouse
    duplicates    BIGINT,             -- new articles marked exact or near duplicate
    stage_counts  VARCHAR,            -- JSON: per stage rows in/out/dropped and seconds
    message       VARCHAR,
    snapshot_id   BIGINT,             -- the DuckLake snapshot that published the run (NULL: nothing published)
    source_health VARCHAR             -- JSON: per source status (ok|partial|empty|failed), items, rejects
);
