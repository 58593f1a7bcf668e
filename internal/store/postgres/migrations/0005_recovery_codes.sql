-- Single-use recovery codes for agents who lost their authenticator: only
-- the SHA-256 of each code is kept (decision 36). A code is spent by
-- deleting its row.
CREATE TABLE recovery_codes (
    agent_id bigint NOT NULL REFERENCES agents (id),
    hash     text   NOT NULL,
    PRIMARY KEY (agent_id, hash)
);
