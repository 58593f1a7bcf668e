package auth

import (
	"context"
	"fmt"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

// PresenceTimeout is how long an agent stays "online" or "away" with no
// console open. An open console re-checks its session every 15 s, which
// marks the session seen at least once a minute (touchEvery); three minutes
// without that means the browser is closed, asleep or cut off.
const PresenceTimeout = 3 * time.Minute

// SweepPresence sets offline every agent shown online or away whose
// sessions have all gone quiet for PresenceTimeout, so that routing and
// colleagues never count on someone who closed the browser. Each change is
// audited as the system's and returned for the caller to publish. It is
// safe to run on every node at once: the change is re-checked inside the
// transaction.
func (s *Service) SweepPresence(ctx context.Context) ([]desk.Agent, error) {
	cutoff := s.now().Add(-PresenceTimeout)
	// Almost always nobody is stale: a read, so the sweep does not take
	// the single SQLite writer every 30 s for nothing.
	var stale []desk.Agent
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		stale, err = tx.ListStalePresence(ctx, cutoff)
		return err
	})
	if err != nil || len(stale) == 0 {
		return nil, err
	}
	var changed []desk.Agent
	err = s.st.Write(ctx, func(tx store.Tx) error {
		changed = changed[:0]
		stale, err := tx.ListStalePresence(ctx, cutoff)
		if err != nil {
			return err
		}
		for _, a := range stale {
			old := a.Presence
			a.Presence = desk.PresenceOffline
			a.UpdatedAt = s.now()
			if err := tx.UpdateAgent(ctx, &a); err != nil {
				return err
			}
			changed = append(changed, a)
			if err := s.audit(ctx, tx, Principal{}, "agent.presence", AgentTarget(a.ID),
				map[string]any{"old": old, "new": a.Presence, "reason": "no console open"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sweep presence: %w", err)
	}
	return changed, nil
}
