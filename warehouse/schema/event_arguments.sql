CREATE TABLE IF NOT EXISTS event_arguments (
    event_id   VARCHAR NOT NULL,
    role       VARCHAR NOT NULL,  -- signatory | signer | participant | location | actor | target
    entity_id  VARCHAR NOT NULL
);
