DROP INDEX vehicle_metadata_by_role;
DROP TABLE manifest_rejections;
DROP TABLE provisionings;
DROP TABLE provisioning_allowances;
