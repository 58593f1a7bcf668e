-- Authenticator codes are single-use: the last accepted time step per agent.
ALTER TABLE agents ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
