-- One row per expectation per run.
CREATE TABLE IF NOT EXISTS validation_results (
    run_id            VARCHAR NOT NULL,
    suite             VARCHAR NOT NULL,
    expectation       VARCHAR NOT NULL,
    severity          VARCHAR NOT NULL,  -- critical | warning
    success           BOOLEAN NOT NULL,
    unexpected_count  BIGINT,
    unexpected_sample VARCHAR,           -- JSON list, at most 20 values
    observed_value    VARCHAR,           -- JSON
    validated_at      TIMESTAMP WITH TIME ZONE
);
