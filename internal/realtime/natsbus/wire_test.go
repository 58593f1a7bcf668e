package natsbus

import (
	"encoding/json"
	"testing"

	"custos/internal/desk"
	"custos/internal/realtime"
)

// TestWireFormat pins the JSON between nodes: nodes of two builds share the
// subject during a rolling upgrade, so a renamed Go field must not rename a
// key. The names come from realtime.Event's tags.
func TestWireFormat(t *testing.T) {
	ev := realtime.Event{Type: realtime.Typing, Ticket: desk.Ticket{ID: 7}, Actor: desk.AuthorAgent, ActorID: 3,
		Name: "Alice", On: true, Seq: 9, AgentID: 3, Presence: desk.PresenceOnline}
	b, err := json.Marshal(wire{V: 1, Node: "n1", Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"v", "node", "type", "ticket", "actor", "actor_id", "name", "on", "seq", "agent_id", "presence"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("key %q missing from %s", k, b)
		}
	}
	if len(keys) != 11 {
		t.Errorf("unexpected keys in %s", b)
	}
	var back wire
	if err := json.Unmarshal(b, &back); err != nil || back.Event.Name != "Alice" || back.Event.Seq != 9 || back.Node != "n1" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}
