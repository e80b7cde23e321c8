-- Manifests are kept as the JSON text received (half the size of hex, which PostgreSQL
-- otherwise compresses on every check-in). Bytes that are not UTF-8 (only ever a refused
-- manifest) stay hex. Exactly one of the two is set; rows stored before remain hex.
-- Rebuilt rather than altered: SQLite cannot relax a NOT NULL column.
CREATE TABLE manifests_stored (
    id TEXT PRIMARY KEY NOT NULL,
    vin TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body TEXT,
    bytes_hex TEXT,
    outcome TEXT NOT NULL,
    attacks TEXT NOT NULL,
    CHECK ((body IS NULL) <> (bytes_hex IS NULL))
);
INSERT INTO manifests_stored (id, vin, received_at, body, bytes_hex, outcome, attacks)
    SELECT id, vin, received_at, NULL, bytes_hex, outcome, attacks FROM manifests;
DROP TABLE manifests;
ALTER TABLE manifests_stored RENAME TO manifests;
CREATE INDEX manifests_by_vin ON manifests (vin, received_at);
