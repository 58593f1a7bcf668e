-- A customer's resend is found across all their conversations (a resend after
-- the chat was solved must not open a new one): messages by contact and
-- client id.
CREATE INDEX messages_contact_client_id ON messages (author_id, client_id) WHERE author_kind = 'contact' AND client_id <> '';
