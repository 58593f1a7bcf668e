package sqldb

// tx.go holds the store.Tx methods for contacts, teams, agents (with their
// recovery codes), sessions and API tokens; tickets.go holds tickets and
// everything hanging off them.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

// Tx implements store.Tx on one database/sql transaction, using d for
// everything the engines disagree on.
type Tx struct {
	tx *sql.Tx
	d  *Dialect
	sp int // savepoints opened so far, for unique names
}

var _ store.Tx = (*Tx)(nil)

type scanner interface{ Scan(dest ...any) error }

// now is the current time as both databases keep it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func normPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	n := norm(*t)
	return &n
}

// jsonDoc encodes v without HTML escaping, so stored text stays searchable.
func jsonDoc(v any) any {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // only slices and maps of plain values reach here
	// Both drivers take the document text as a plain string parameter (pgx
	// sends it as the jsonb text).
	return strings.TrimSuffix(b.String(), "\n")
}

// list encodes a slice as a JSON array. A nil slice becomes empty in the
// caller's struct too, so what was written equals what is read back.
func list[T any](p *[]T) any {
	if *p == nil {
		*p = []T{}
	}
	return jsonDoc(*p)
}

func conflict(msg string, err error) error {
	return &desk.Error{Code: desk.EConflict, Message: msg, Err: err}
}

// dbErr maps a driver error: unique violations become msg conflicts.
func (t *Tx) dbErr(op, msg string, err error) error {
	if t.d.IsUnique(err) {
		return conflict(msg, err)
	}
	return Internal(op, err)
}

// rowErr maps sql.ErrNoRows to a not-found error for what.
func rowErr(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return desk.NotFound(what)
	}
	return Internal("get "+what, err)
}

// affected turns "no row changed" into a not-found error for what.
func (t *Tx) affected(what string, res sql.Result, err error) error {
	if err != nil {
		return t.dbErr("update "+what, what+" already exists", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Internal("update "+what, err)
	}
	if n == 0 {
		return desk.NotFound(what)
	}
	return nil
}

// where builds a WHERE clause with numbered parameters.
type where struct {
	conds []string
	args  []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

func (w *where) in(col string, vals []any) {
	ps := make([]string, len(vals))
	for i, v := range vals {
		ps[i] = w.arg(v)
	}
	w.add(col + " IN (" + strings.Join(ps, ", ") + ")")
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likePattern makes user text a literal, case-insensitive substring pattern
// for `lower(col) LIKE p ESCAPE '\'`.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

func limit(n int) int {
	if n <= 0 {
		return desk.DefaultPage
	}
	return min(n, desk.MaxPageSize)
}

// queryAll runs q and scans every row with scan; an empty result is an
// empty, non-nil slice. op names the operation in errors.
func queryAll[T any](ctx context.Context, t *Tx, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, Internal(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, Internal(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, Internal(op, err)
	}
	return out, nil
}

// queryOne runs a one-row query; no row is desk.NotFound(what).
func queryOne[T any](ctx context.Context, t *Tx, what string, scan func(scanner) (T, error), q string, args ...any) (T, error) {
	v, err := scan(t.tx.QueryRowContext(ctx, q, args...))
	if err != nil {
		var zero T
		return zero, rowErr(what, err)
	}
	return v, nil
}

func (t *Tx) Savepoint(ctx context.Context, fn func(store.Tx) error) error {
	t.sp++
	name := "sp" + strconv.Itoa(t.sp)
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return Internal("savepoint", err)
	}
	if err := fn(t); err != nil {
		if _, rerr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, Internal("rollback to savepoint", rerr))
		}
		if _, rerr := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, Internal("release savepoint", rerr))
		}
		return err
	}
	if _, err := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return Internal("release savepoint", err)
	}
	return nil
}

// ---- contacts ----

const contactCols = `id, external_uid, name, emails, phone, telegram_id, language, vip_tier, kyc_level, tags, created_at, updated_at`

func (t *Tx) scanContact(r scanner) (desk.Contact, error) {
	var c desk.Contact
	err := r.Scan(&c.ID, &c.ExternalUID, &c.Name, jcol{&c.Emails}, &c.Phone, &c.TelegramID, &c.Language,
		&c.VIPTier, &c.KYCLevel, jcol{&c.Tags}, t.at(&c.CreatedAt), t.at(&c.UpdatedAt))
	return c, err
}

func (t *Tx) CreateContact(ctx context.Context, c *desk.Contact) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.CreatedAt = norm(c.CreatedAt)
	c.UpdatedAt = c.CreatedAt
	err := t.tx.QueryRowContext(ctx, `INSERT INTO contacts (external_uid, name, emails, phone, telegram_id, language, vip_tier, kyc_level, tags, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING id`,
		c.ExternalUID, c.Name, list(&c.Emails), c.Phone, c.TelegramID, c.Language, c.VIPTier, c.KYCLevel, list(&c.Tags),
		t.tv(c.CreatedAt), t.tv(c.UpdatedAt)).Scan(&c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return conflict("contact external uid already exists", nil)
	}
	if err != nil {
		return Internal("create contact", err)
	}
	return nil
}

func (t *Tx) UpdateContact(ctx context.Context, c *desk.Contact) error {
	c.UpdatedAt = now()
	res, err := t.tx.ExecContext(ctx, `UPDATE contacts SET external_uid = $1, name = $2, emails = $3, phone = $4, telegram_id = $5,
		language = $6, vip_tier = $7, kyc_level = $8, tags = $9, updated_at = $10 WHERE id = $11`,
		c.ExternalUID, c.Name, list(&c.Emails), c.Phone, c.TelegramID, c.Language, c.VIPTier, c.KYCLevel, list(&c.Tags),
		t.tv(c.UpdatedAt), c.ID)
	return t.affected("contact", res, err)
}

func (t *Tx) GetContact(ctx context.Context, id int64) (desk.Contact, error) {
	return queryOne(ctx, t, "contact", t.scanContact, `SELECT `+contactCols+` FROM contacts WHERE id = $1`, id)
}

func (t *Tx) GetContactByUID(ctx context.Context, externalUID string) (desk.Contact, error) {
	if externalUID == "" {
		return desk.Contact{}, desk.NotFound("contact")
	}
	return queryOne(ctx, t, "contact", t.scanContact, `SELECT `+contactCols+` FROM contacts WHERE external_uid = $1`, externalUID)
}

func (t *Tx) ListContacts(ctx context.Context, f store.ContactFilter) ([]desk.Contact, error) {
	var w where
	if f.Text != "" {
		// Name and exchange UID match as substrings; an email or a phone
		// number only whole. A reader sees them masked, and substring
		// matching would let them be recovered character by character.
		p := w.arg(likePattern(f.Text))
		cond := `lower(name) LIKE ` + p + ` ESCAPE '\' OR lower(external_uid) LIKE ` + p + ` ESCAPE '\'`
		if strings.Contains(f.Text, "@") {
			esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.Text))
			cond += ` OR lower(` + t.d.JSONText("emails") + `) LIKE ` + w.arg(`%"`+esc+`"%`) + ` ESCAPE '\'`
		} else {
			cond += ` OR phone = ` + w.arg(f.Text)
		}
		w.add("(" + cond + ")")
	}
	if f.Cursor > 0 {
		w.add("id < " + w.arg(f.Cursor))
	}
	q := `SELECT ` + contactCols + ` FROM contacts` + w.String() + ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit(f.Limit))
	return queryAll(ctx, t, "list contacts", t.scanContact, q, w.args...)
}

// ---- teams ----

func (t *Tx) CreateTeam(ctx context.Context, tm *desk.Team) error {
	if tm.CreatedAt.IsZero() {
		tm.CreatedAt = now()
	}
	tm.CreatedAt = norm(tm.CreatedAt)
	err := t.tx.QueryRowContext(ctx, `INSERT INTO teams (name, kind, business_hours, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		tm.Name, string(tm.Kind), tm.BusinessHours, t.tv(tm.CreatedAt)).Scan(&tm.ID)
	if err != nil {
		return t.dbErr("create team", "team already exists", err)
	}
	return nil
}

func (t *Tx) UpdateTeam(ctx context.Context, tm *desk.Team) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE teams SET name = $1, kind = $2, business_hours = $3 WHERE id = $4`,
		tm.Name, string(tm.Kind), tm.BusinessHours, tm.ID)
	return t.affected("team", res, err)
}

const teamCols = `id, name, kind, business_hours, created_at`

func (t *Tx) scanTeam(r scanner) (desk.Team, error) {
	var tm desk.Team
	err := r.Scan(&tm.ID, &tm.Name, &tm.Kind, &tm.BusinessHours, t.at(&tm.CreatedAt))
	return tm, err
}

func (t *Tx) GetTeam(ctx context.Context, id int64) (desk.Team, error) {
	return queryOne(ctx, t, "team", t.scanTeam, `SELECT `+teamCols+` FROM teams WHERE id = $1`, id)
}

func (t *Tx) ListTeams(ctx context.Context) ([]desk.Team, error) {
	return queryAll(ctx, t, "list teams", t.scanTeam, `SELECT `+teamCols+` FROM teams ORDER BY id`)
}

// ---- agents ----

const agentCols = `id, login, name, email, role, team_ids, languages, skills, chat_limit, presence, disabled, totp_secret <> '', created_at, updated_at`

func (t *Tx) scanAgent(r scanner) (desk.Agent, error) {
	var a desk.Agent
	err := r.Scan(&a.ID, &a.Login, &a.Name, &a.Email, &a.Role, jcol{&a.TeamIDs}, jcol{&a.Languages}, jcol{&a.Skills},
		&a.ChatLimit, &a.Presence, &a.Disabled, &a.TOTPEnabled, t.at(&a.CreatedAt), t.at(&a.UpdatedAt))
	return a, err
}

func (t *Tx) CreateAgent(ctx context.Context, a *desk.Agent, passwordHash string) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	a.CreatedAt = norm(a.CreatedAt)
	a.UpdatedAt = a.CreatedAt
	a.TOTPEnabled = false
	if a.Presence == "" {
		a.Presence = desk.PresenceOffline
	}
	err := t.tx.QueryRowContext(ctx, `INSERT INTO agents (login, name, email, role, team_ids, languages, skills, chat_limit, presence, disabled, created_at, updated_at, password_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING RETURNING id`,
		a.Login, a.Name, a.Email, string(a.Role), list(&a.TeamIDs), list(&a.Languages), list(&a.Skills), a.ChatLimit,
		string(a.Presence), a.Disabled, t.tv(a.CreatedAt), t.tv(a.UpdatedAt), passwordHash).Scan(&a.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return conflict("login already exists", nil)
	}
	if err != nil {
		return Internal("create agent", err)
	}
	return nil
}

func (t *Tx) UpdateAgent(ctx context.Context, a *desk.Agent) error {
	a.UpdatedAt = now()
	res, err := t.tx.ExecContext(ctx, `UPDATE agents SET login = $1, name = $2, email = $3, role = $4, team_ids = $5, languages = $6,
		skills = $7, chat_limit = $8, presence = $9, disabled = $10, updated_at = $11 WHERE id = $12`,
		a.Login, a.Name, a.Email, string(a.Role), list(&a.TeamIDs), list(&a.Languages), list(&a.Skills), a.ChatLimit,
		string(a.Presence), a.Disabled, t.tv(a.UpdatedAt), a.ID)
	if err := t.affected("agent", res, err); err != nil {
		if errors.Is(err, desk.ErrConflict) {
			return conflict("login already exists", err)
		}
		return err
	}
	// TOTPEnabled is derived from the secret, not written here.
	return t.tx.QueryRowContext(ctx, `SELECT totp_secret <> '' FROM agents WHERE id = $1`, a.ID).Scan(&a.TOTPEnabled)
}

func (t *Tx) GetAgent(ctx context.Context, id int64) (desk.Agent, error) {
	return queryOne(ctx, t, "agent", t.scanAgent, `SELECT `+agentCols+` FROM agents WHERE id = $1`, id)
}

func (t *Tx) GetAgentByLogin(ctx context.Context, login string) (desk.Agent, error) {
	return queryOne(ctx, t, "agent", t.scanAgent, `SELECT `+agentCols+` FROM agents WHERE login = $1`, login)
}

func (t *Tx) ListAgents(ctx context.Context) ([]desk.Agent, error) {
	return queryAll(ctx, t, "list agents", t.scanAgent, `SELECT `+agentCols+` FROM agents ORDER BY id`)
}

func (t *Tx) ListStalePresence(ctx context.Context, seenBefore time.Time) ([]desk.Agent, error) {
	return queryAll(ctx, t, "list stale presence", t.scanAgent, `SELECT `+agentCols+` FROM agents a
		WHERE a.presence <> 'offline' AND NOT EXISTS (
			SELECT 1 FROM sessions s WHERE s.agent_id = a.id AND s.last_seen_at >= $1)
		ORDER BY a.id`, t.tv(seenBefore))
}

func (t *Tx) GetAgentSecrets(ctx context.Context, agentID int64) (desk.AgentSecrets, error) {
	s := desk.AgentSecrets{AgentID: agentID}
	var locked *time.Time
	err := t.tx.QueryRowContext(ctx, `SELECT password_hash, totp_secret, totp_last_step, failed_logins, locked_until FROM agents WHERE id = $1`, agentID).
		Scan(&s.PasswordHash, &s.TOTPSecret, &s.TOTPLastStep, &s.FailedLogins, t.atNull(&locked))
	if err != nil {
		return desk.AgentSecrets{}, rowErr("agent", err)
	}
	if locked != nil {
		s.LockedUntil = *locked
	}
	return s, nil
}

func (t *Tx) SetAgentSecrets(ctx context.Context, s desk.AgentSecrets) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE agents SET password_hash = $1, totp_secret = $2, totp_last_step = $3, failed_logins = $4, locked_until = $5 WHERE id = $6`,
		s.PasswordHash, s.TOTPSecret, s.TOTPLastStep, s.FailedLogins, t.tvNull(&s.LockedUntil), s.AgentID)
	return t.affected("agent", res, err)
}

// ---- recovery codes ----

func (t *Tx) ReplaceRecoveryCodes(ctx context.Context, agentID int64, hashes []string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE agent_id = $1`, agentID); err != nil {
		return Internal("delete recovery codes", err)
	}
	for _, h := range hashes {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO recovery_codes (agent_id, hash) VALUES ($1, $2)`, agentID, h); err != nil {
			return t.dbErr("store recovery code", "recovery code already exists", err)
		}
	}
	return nil
}

func (t *Tx) UseRecoveryCode(ctx context.Context, agentID int64, hash string) (int, error) {
	// The DELETE is the check: on PostgreSQL a second transaction deleting
	// the same row waits for the first and then finds nothing to delete.
	res, err := t.tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE agent_id = $1 AND hash = $2`, agentID, hash)
	if err := t.affected("recovery code", res, err); err != nil {
		return 0, err
	}
	return t.CountRecoveryCodes(ctx, agentID)
}

func (t *Tx) CountRecoveryCodes(ctx context.Context, agentID int64) (int, error) {
	var n int
	if err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE agent_id = $1`, agentID).Scan(&n); err != nil {
		return 0, Internal("count recovery codes", err)
	}
	return n, nil
}

// ---- sessions ----

const sessionCols = `id, agent_id, csrf, mfa_pending, created_at, expires_at, last_seen_at, ip, user_agent`

func (t *Tx) CreateSession(ctx context.Context, s desk.Session) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.ID, s.AgentID, s.CSRF, s.MFAPending, t.tv(s.CreatedAt), t.tv(s.ExpiresAt), t.tv(s.LastSeenAt), s.IP, s.UserAgent)
	if err != nil {
		return t.dbErr("create session", "session already exists", err)
	}
	return nil
}

func (t *Tx) GetSession(ctx context.Context, id string) (desk.Session, error) {
	var s desk.Session
	err := t.tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id).Scan(&s.ID, &s.AgentID, &s.CSRF,
		&s.MFAPending, t.at(&s.CreatedAt), t.at(&s.ExpiresAt), t.at(&s.LastSeenAt), &s.IP, &s.UserAgent)
	if err != nil {
		return desk.Session{}, rowErr("session", err)
	}
	return s, nil
}

func (t *Tx) UpdateSession(ctx context.Context, s desk.Session) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE sessions SET csrf = $1, mfa_pending = $2, expires_at = $3, last_seen_at = $4, ip = $5, user_agent = $6 WHERE id = $7`,
		s.CSRF, s.MFAPending, t.tv(s.ExpiresAt), t.tv(s.LastSeenAt), s.IP, s.UserAgent, s.ID)
	return t.affected("session", res, err)
}

func (t *Tx) DeleteSession(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return t.affected("session", res, err)
}

func (t *Tx) DeleteAgentSessions(ctx context.Context, agentID int64) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE agent_id = $1`, agentID); err != nil {
		return Internal("delete sessions", err)
	}
	return nil
}

func (t *Tx) DeleteExpiredSessions(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1`, t.tv(before))
	if err != nil {
		return 0, Internal("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, Internal("delete expired sessions", err)
	}
	return n, nil
}

// ---- API tokens ----

const tokenCols = `id, name, prefix, hash, scopes, created_by, created_at, last_used_at, revoked_at`

func (t *Tx) scanToken(r scanner) (desk.APIToken, error) {
	var k desk.APIToken
	err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, jcol{&k.Scopes}, &k.CreatedBy, t.at(&k.CreatedAt), t.atNull(&k.LastUsedAt), t.atNull(&k.RevokedAt))
	return k, err
}

func (t *Tx) CreateToken(ctx context.Context, k *desk.APIToken) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	k.CreatedAt = norm(k.CreatedAt)
	k.LastUsedAt, k.RevokedAt = normPtr(k.LastUsedAt), normPtr(k.RevokedAt)
	err := t.tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, prefix, hash, scopes, created_by, created_at, last_used_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id`,
		k.Name, k.Prefix, k.Hash, list(&k.Scopes), k.CreatedBy, t.tv(k.CreatedAt), t.tvNull(k.LastUsedAt), t.tvNull(k.RevokedAt)).Scan(&k.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return conflict("token already exists", nil)
	}
	if err != nil {
		return Internal("create token", err)
	}
	return nil
}

func (t *Tx) GetTokenByHash(ctx context.Context, hash string) (desk.APIToken, error) {
	return queryOne(ctx, t, "token", t.scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1`, hash)
}

func (t *Tx) ListTokens(ctx context.Context) ([]desk.APIToken, error) {
	return queryAll(ctx, t, "list tokens", t.scanToken, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id`)
}

func (t *Tx) TouchToken(ctx context.Context, id int64, when time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, t.tv(when), id)
	return t.affected("token", res, err)
}

func (t *Tx) RevokeToken(ctx context.Context, id int64, when time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE id = $2`, t.tv(when), id)
	return t.affected("token", res, err)
}
