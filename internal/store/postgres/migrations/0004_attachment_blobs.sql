-- Attachment bytes kept in the database (attachment_store = database): the
-- choice for several nodes, which share the database but not a disk.
CREATE TABLE attachment_blobs (
    id   TEXT PRIMARY KEY,
    data bytea NOT NULL
);
