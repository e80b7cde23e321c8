-- Provisioning by Primaries with the fleet credential, and the cap on stored refused manifests.

-- The operator's permission for the next provisioning of a VIN to change its ECUs or keys
-- (consumed by it).
CREATE TABLE provisioning_allowances (
    vin TEXT PRIMARY KEY NOT NULL REFERENCES vehicles (vin),
    allowed_at TEXT NOT NULL
);

-- Every client certificate issued to a Primary (append-only): "registered" (first start),
-- "reissued" (same inventory again) or "reprovisioned" (changed ECUs, allowed by the operator).
CREATE TABLE provisionings (
    id TEXT PRIMARY KEY NOT NULL,
    vin TEXT NOT NULL REFERENCES vehicles (vin),
    provisioned_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    certificate_sha256 TEXT NOT NULL
);
CREATE INDEX provisionings_by_vin ON provisionings (vin, provisioned_at);

-- Refused manifests beyond the newest few are deleted; these counts keep their number per code.
CREATE TABLE manifest_rejections (
    vin TEXT NOT NULL,
    code TEXT NOT NULL,
    total BIGINT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (vin, code)
);

-- The background re-signing task looks for vehicles whose newest timestamp expires soon.
CREATE INDEX vehicle_metadata_by_role ON vehicle_metadata (role, vin, expires);
