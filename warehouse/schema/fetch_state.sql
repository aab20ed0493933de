-- What the fetch stage remembers per requested URL, so the next run can ask
-- conditionally (If-None-Match / If-Modified-Since) and skip what it already holds.
-- One row per URL: written "replace by url" (see flows/stages/fetchers/state.py).
CREATE TABLE IF NOT EXISTS fetch_state (
    url             VARCHAR NOT NULL,   -- the URL as requested (before redirects)
    etag            VARCHAR,            -- ETag of the last 2xx (or refreshed by a 304)
    last_modified   VARCHAR,            -- Last-Modified of the last 2xx, verbatim
    last_status     INTEGER,            -- last HTTP status; NULL when the last try got no answer
    last_fetched    TIMESTAMP WITH TIME ZONE,
    content_sha256  VARCHAR             -- sha256 of the last body read (a 200 with the same hash is unchanged)
);
