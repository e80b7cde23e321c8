-- One portable migration set: SQLite and PostgreSQL (no Bool/Binary columns, no RETURNING,
-- no auto-increment: ids are random hex chosen by the service).
CREATE TABLE vehicles (
    vin TEXT PRIMARY KEY NOT NULL,
    primary_serial TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE ecus (
    serial TEXT PRIMARY KEY NOT NULL,
    vin TEXT NOT NULL REFERENCES vehicles (vin),
    hardware_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    key_id TEXT NOT NULL,
    is_primary SMALLINT NOT NULL,
    last_counter BIGINT,
    last_nonce TEXT
);
CREATE INDEX ecus_by_vin ON ecus (vin);

-- Append-only: every manifest received, with its outcome code ("accepted" or the rejection).
CREATE TABLE manifests (
    id TEXT PRIMARY KEY NOT NULL,
    vin TEXT NOT NULL,
    received_at TEXT NOT NULL,
    bytes_hex TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attacks TEXT NOT NULL
);
CREATE INDEX manifests_by_vin ON manifests (vin, received_at);

CREATE TABLE installed_images (
    ecu_serial TEXT PRIMARY KEY NOT NULL REFERENCES ecus (serial),
    vin TEXT NOT NULL,
    filepath TEXT NOT NULL,
    length BIGINT NOT NULL,
    hashes TEXT NOT NULL,
    reported_at TEXT NOT NULL
);

CREATE TABLE assignments (
    id TEXT PRIMARY KEY NOT NULL,
    vin TEXT NOT NULL REFERENCES vehicles (vin),
    ecu_serial TEXT NOT NULL REFERENCES ecus (serial),
    target_path TEXT NOT NULL,
    target_json TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX assignments_by_vin ON assignments (vin, status);

-- The shared Director root, uploaded by the operator (signed offline).
CREATE TABLE director_roots (
    version BIGINT PRIMARY KEY NOT NULL,
    bytes_hex TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Per-vehicle targets, snapshot and timestamp. The key makes two processes unable to issue
-- one version twice.
CREATE TABLE vehicle_metadata (
    vin TEXT NOT NULL,
    role TEXT NOT NULL,
    version BIGINT NOT NULL,
    bytes_hex TEXT NOT NULL,
    expires TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (vin, role, version)
);
