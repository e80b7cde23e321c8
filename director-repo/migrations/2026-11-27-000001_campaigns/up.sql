-- Assignment lifecycle and campaigns (portable: SQLite and PostgreSQL).

-- pending -> in_flight (issued in a bundle) -> done | failed; pending -> cancelled.
ALTER TABLE assignments ADD COLUMN campaign_id TEXT;
-- The Director targets version that first listed the assignment (one bundle = one version).
ALTER TABLE assignments ADD COLUMN issued_version BIGINT;
-- Why it failed or was cancelled.
ALTER TABLE assignments ADD COLUMN reason TEXT;
CREATE INDEX assignments_by_campaign ON assignments (campaign_id, status);
CREATE INDEX assignments_by_ecu ON assignments (ecu_serial, status);
-- At most one assignment per ECU waits to be issued, whichever process inserts it (an ECU may
-- appear only once in Director targets).
CREATE UNIQUE INDEX one_pending_per_ecu ON assignments (ecu_serial) WHERE status = 'pending';

-- A staged rollout of one Image-repository target to every ECU of one hardware id across a set
-- of vehicles. `row_version` grows with every state or stage change: changes are conditional
-- updates on it, so with several Director processes a stage advances exactly once.
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    target_path TEXT NOT NULL,
    hardware_id TEXT NOT NULL,
    target_json TEXT NOT NULL,
    first_batch BIGINT NOT NULL,
    max_failure_percent BIGINT NOT NULL,
    state TEXT NOT NULL,
    stage BIGINT NOT NULL,
    row_version BIGINT NOT NULL,
    reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The vehicles of a campaign, in order, and the batch (1: the first batch, 2: the rest).
CREATE TABLE campaign_vehicles (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    vin TEXT NOT NULL REFERENCES vehicles (vin),
    batch BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, vin)
);

-- A vehicle whose manifest showed a bundle installed on some ECUs and not on others (partial
-- bundle installation, A10): no new bundle is issued for it until the operator releases it.
CREATE TABLE vehicle_holds (
    vin TEXT PRIMARY KEY NOT NULL REFERENCES vehicles (vin),
    reason TEXT NOT NULL,
    manifest_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
