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
    bytes         BIGINT NOT NULL,
    -- How the bytes were read as text (null in rows stored before these columns existed):
    encoding      VARCHAR,            -- charset used to decode, e.g. utf-8, windows-1252, utf-16le
    encoding_note VARCHAR,            -- why, when not simply the declared charset (lying label, BOM, guess: "mojibake risk")
    parse_warning VARCHAR             -- feeds: feedparser's bozo, "ClassName: message"; null when clean
);
