DROP TABLE tokens;
DROP TABLE uploads;
DROP TABLE targets;
DROP TABLE metadata_versions;
