-- Raw fetch records; the bytes are in <warehouse>/raw/<sha256[:2]>/<sha256>.
CREATE TABLE IF NOT EXISTS documents (
    doc_id        VARCHAR NOT NULL,   -- content key of (uri, sha256)
    run_id        VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    uri           VARCHAR NOT NULL,
    fetched_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    http_status   INTEGER,
    content_type  VARCHAR,
    sha256        VARCHAR NOT NULL,
    bytes         BIGINT NOT NULL
);
