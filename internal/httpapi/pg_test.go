package httpapi

import "testing"

// TestPostgres runs the API scenarios again on PostgreSQL when
// CUSTOS_TEST_PG names a server; the behaviour must not depend on the store.
func TestPostgres(t *testing.T) {
	pgtestSkip(t)
	for name, fn := range map[string]func(*testing.T, *env){
		"RoleMatrix":       testRoleMatrix,
		"TeamScoping":      testTeamScoping,
		"CSRF":             testCSRF,
		"Idempotency":      testIdempotency,
		"BadBodies":        testBadBodies,
		"BadValues":        testBadValues,
		"BadQueries":       testBadQueries,
		"HostileText":      testHostileTextVerbatim,
		"ContactMasking":   testContactMaskingAndReveal,
		"AgentsTeamsAudit": testAgentsTeamsTokensAudit,
		"Attachments":      testAttachments,
		"LoginFlow":        testLoginFlow,
	} {
		t.Run(name, func(t *testing.T) { fn(t, newPGEnv(t)) })
	}
}
