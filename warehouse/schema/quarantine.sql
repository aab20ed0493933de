-- Rows held back by a failed expectation in quarantine mode.
CREATE TABLE IF NOT EXISTS quarantine (
    run_id       VARCHAR NOT NULL,
    table_name   VARCHAR NOT NULL,
    row_key      VARCHAR,
    expectation  VARCHAR NOT NULL,
    row_json     VARCHAR NOT NULL
);
