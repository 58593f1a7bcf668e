package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes keeps the hand-written document and the route
// table in step, both ways.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	s := New(Config{}, Deps{})
	have := map[string]bool{}
	for _, rt := range s.routes {
		key := rt.Method + " " + rt.Path
		have[key] = true
		ops, ok := doc.Paths[rt.Path]
		if !ok || ops[strings.ToLower(rt.Method)] == nil {
			t.Errorf("route %s is missing from openapi.json", key)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" || m == "summary" || m == "description" {
				continue
			}
			if !have[strings.ToUpper(m)+" "+path] {
				t.Errorf("openapi.json lists %s %s, which is not a route", strings.ToUpper(m), path)
			}
		}
	}
	// Every $ref must point at something that exists.
	var all map[string]any
	_ = json.Unmarshal(openAPIDoc, &all)
	comps := all["components"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				sect, _ := comps[parts[0]].(map[string]any)
				if len(parts) != 2 || sect == nil || sect[parts[1]] == nil {
					t.Errorf("dangling $ref %s", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(all)
}
