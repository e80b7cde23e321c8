-- One portable migration set: SQLite and PostgreSQL (no Bool/Binary columns, no RETURNING).
CREATE TABLE metadata_versions (
    role TEXT NOT NULL,
    version BIGINT NOT NULL,
    bytes_hex TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    length BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (role, version)
);

CREATE TABLE targets (
    role TEXT NOT NULL,
    path TEXT NOT NULL,
    length BIGINT NOT NULL,
    hashes TEXT NOT NULL,
    custom TEXT,
    blob_sha256 TEXT NOT NULL,
    PRIMARY KEY (role, path)
);

CREATE TABLE uploads (
    sha256 TEXT PRIMARY KEY NOT NULL,
    length BIGINT NOT NULL,
    hashes TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE tokens (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
