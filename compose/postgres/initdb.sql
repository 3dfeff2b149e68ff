-- The read database beside the log's (READ_DATABASE_URL); runs once, on an empty volume.
CREATE DATABASE orders_read OWNER orders;
