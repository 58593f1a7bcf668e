// Package auth decides who is calling and what they may do: agent passwords
// (argon2id), authenticator codes (TOTP), console sessions, API tokens, the
// role/scope permission table and customer identity tokens for chat.
//
// It must never log, return or audit a secret (password, TOTP secret or
// code, session or API token); the store keeps only hashes of tokens.
package auth
