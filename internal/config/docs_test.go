package config_test

import (
	"flag"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"custos/internal/config"
)

// configDoc is the operators' reference every setting must appear in.
const configDoc = "../../docs/configuration.md"

// settingsTable holds the backticked names of docs/configuration.md's
// settings table, one set per column that matters.
type settingsTable struct {
	keys, flags, envs map[string]bool
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readSettingsTable parses the Markdown table whose header starts with
// "| setting (JSON key) | flag | environment |".
func readSettingsTable(t *testing.T, doc string) settingsTable {
	t.Helper()
	tab := settingsTable{keys: map[string]bool{}, flags: map[string]bool{}, envs: map[string]bool{}}
	in := false
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if in {
				break // the table ended
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !in {
			if len(cells) >= 3 && strings.Contains(cells[0], "JSON key") && strings.Contains(cells[1], "flag") && strings.Contains(cells[2], "environment") {
				in = true
			}
			continue
		}
		if len(cells) < 3 || strings.Trim(cells[0], " -") == "" {
			continue // the |---| separator
		}
		for i, set := range []map[string]bool{tab.keys, tab.flags, tab.envs} {
			for _, m := range backticked.FindAllStringSubmatch(cells[i], -1) {
				set[m[1]] = true
			}
		}
	}
	if len(tab.keys) == 0 {
		t.Fatalf("%s: no settings table (header | setting (JSON key) | flag | environment | ...) found", configDoc)
	}
	return tab
}

// jsonKeys lists the JSON names of Config's settings (tags other than "-").
func jsonKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	if len(keys) == 0 {
		t.Fatal("config.Config has no json-tagged settings")
	}
	return keys
}

// loaderEnvVars returns every string literal that is exactly a CUSTOS_*
// name in the package's non-test sources: the variables the loader reads.
func loaderEnvVars(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^CUSTOS_[A-Z0-9_]+$`)
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(f, fset.Base(), len(src)), src, nil, 0)
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			if v, err := strconv.Unquote(lit); err == nil && name.MatchString(v) {
				seen[v] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("no CUSTOS_* string literal found in the config sources")
	}
	return out
}

// TestEverySettingIsDocumented keeps docs/configuration.md in step with the
// loader: a setting, flag or environment variable added to the code must be
// added to the reference, and a row must not outlive its setting.
func TestEverySettingIsDocumented(t *testing.T) {
	b, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	tab := readSettingsTable(t, doc)
	// Flags and variables that only make sense outside the table (--config,
	// CUSTOS_CONFIG) may be documented in the prose, backticked.
	anywhere := map[string]bool{}
	for _, m := range backticked.FindAllStringSubmatch(doc, -1) {
		anywhere[m[1]] = true
		if f, _, ok := strings.Cut(m[1], " "); ok {
			anywhere[f] = true // `--config FILE`
		}
	}

	keys := jsonKeys(t)
	for _, k := range keys {
		if !tab.keys[k] {
			t.Errorf("setting %q (config.Config json tag) is missing from the settings table of %s", k, configDoc)
		}
	}
	for k := range tab.keys {
		if !slices.Contains(keys, k) {
			t.Errorf("%s documents setting %q, which config.Config does not have", configDoc, k)
		}
	}

	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	// Load registers its flags before it parses or validates anything.
	if _, err := config.Load(fs, nil, func(string) string { return "" }); err != nil {
		t.Fatalf("Load with defaults: %v", err)
	}
	nflags := 0
	fs.VisitAll(func(f *flag.Flag) {
		nflags++
		if name := "--" + f.Name; !tab.flags[name] && !anywhere[name] {
			t.Errorf("flag --%s (registered by config.Load) is not documented in %s", f.Name, configDoc)
		}
	})
	if nflags == 0 {
		t.Error("config.Load registered no flags")
	}

	for _, v := range loaderEnvVars(t) {
		if !tab.envs[v] && !anywhere[v] {
			t.Errorf("environment variable %s (read by the config loader) is not documented in %s", v, configDoc)
		}
	}
}
