DROP TABLE vehicle_holds;
DROP TABLE campaign_vehicles;
DROP TABLE campaigns;
DROP INDEX one_pending_per_ecu;
DROP INDEX assignments_by_ecu;
DROP INDEX assignments_by_campaign;
ALTER TABLE assignments DROP COLUMN reason;
ALTER TABLE assignments DROP COLUMN issued_version;
ALTER TABLE assignments DROP COLUMN campaign_id;
