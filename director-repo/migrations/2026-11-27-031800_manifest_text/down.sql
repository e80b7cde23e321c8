-- Back to hex only. Hex-encoding text has no portable SQL spelling, so manifests stored as
-- text are dropped (they are a record of check-ins; the state they changed is elsewhere).
CREATE TABLE manifests_hex (
    id TEXT PRIMARY KEY NOT NULL,
    vin TEXT NOT NULL,
    received_at TEXT NOT NULL,
    bytes_hex TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attacks TEXT NOT NULL
);
INSERT INTO manifests_hex (id, vin, received_at, bytes_hex, outcome, attacks)
    SELECT id, vin, received_at, bytes_hex, outcome, attacks FROM manifests
    WHERE bytes_hex IS NOT NULL;
DROP TABLE manifests;
ALTER TABLE manifests_hex RENAME TO manifests;
CREATE INDEX manifests_by_vin ON manifests (vin, received_at);
