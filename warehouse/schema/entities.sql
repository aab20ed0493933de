-- Canonical entities (people, organisations, places), one row per entity.
CREATE TABLE IF NOT EXISTS entities (
    entity_id     VARCHAR NOT NULL,   -- stable key from type + canonical name
    name          VARCHAR NOT NULL,
    type          VARCHAR NOT NULL,   -- PERSON | ORG | GPE | LOC | NORP | FAC | EVENT | LAW | MISC
    country_code  VARCHAR,            -- ISO 3166-1 alpha-3 where the entity is a state
    wikidata_id   VARCHAR,
    aliases       VARCHAR[]
);
