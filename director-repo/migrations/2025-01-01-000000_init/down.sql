DROP TABLE vehicle_metadata;
DROP TABLE director_roots;
DROP TABLE assignments;
DROP TABLE installed_images;
DROP TABLE manifests;
DROP TABLE ecus;
DROP TABLE vehicles;
