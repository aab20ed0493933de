-- Inputs that failed a stage; the run went on without them.
CREATE TABLE IF NOT EXISTS rejects (
    run_id   VARCHAR NOT NULL,
    source   VARCHAR NOT NULL,
    input    VARCHAR NOT NULL,
    stage    VARCHAR NOT NULL,
    error    VARCHAR NOT NULL
);
