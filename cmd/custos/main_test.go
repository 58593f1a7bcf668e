package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	_ "modernc.org/sqlite"
)

// TestMain lets a test run the real binary's main in a child process (so it
// can be killed with SIGKILL): the child sees CUSTOS_TEST_MAIN_ARGS.
func TestMain(m *testing.M) {
	if a := os.Getenv("CUSTOS_TEST_MAIN_ARGS"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		main2(args)
		return
	}
	os.Exit(m.Run())
}

func main2(args []string) {
	ctx, stop := signalContext()
	defer stop()
	os.Exit(run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	return ctx, cancel
}

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

func TestHelpAndUsage(t *testing.T) {
	for _, c := range commands() {
		args := []string{c.name, "--help"}
		if code, out, errs := runCLI(t, "", args...); code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("%v: code %d, out %q, err %q", args, code, out, errs)
		}
	}
	if code, _, errs := runCLI(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", "serve", "--addr", "nope"); code != 1 || !strings.Contains(errs, "addr") {
		t.Errorf("bad addr must name the setting: %d %q", code, errs)
	}
}

func TestAdminCommands(t *testing.T) {
	data := t.TempDir()
	code, out, errs := runCLI(t, "", "demo", "--data", data)
	if code != 0 || !strings.Contains(out, "admin") || !strings.Contains(out, "custos-demo-2026") {
		t.Fatalf("demo: %d %q %q", code, out, errs)
	}
	if code, out, _ = runCLI(t, "", "demo", "--data", data); code != 0 || !strings.Contains(out, "already") {
		t.Fatalf("second demo must be a no-op: %d %q", code, out)
	}
	// Passwords come from stdin only.
	if code, _, errs = runCLI(t, "", "user", "create", "--data", data, "--login", "newbie", "--name", "New Bie"); code != 2 || !strings.Contains(errs, "standard input") {
		t.Fatalf("user create without stdin: %d %q", code, errs)
	}
	if code, out, errs = runCLI(t, "a-long-enough-password\n", "user", "create", "--data", data, "--login", "newbie", "--name", "New Bie", "--role", "agent"); code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errs)
	}
	if code, _, errs = runCLI(t, "a-long-enough-password\n", "user", "create", "--data", data, "--login", "bad", "--name", "X", "--role", "emperor"); code == 0 || !strings.Contains(errs, "role") {
		t.Fatalf("bad role accepted: %d %q", code, errs)
	}
	if code, out, _ = runCLI(t, "", "user", "list", "--data", data); code != 0 || !strings.Contains(out, "newbie") || !strings.Contains(out, "auditor") {
		t.Fatalf("user list: %d %q", code, out)
	}
	if code, out, errs = runCLI(t, "", "user", "disable", "--data", data, "--login", "newbie"); code != 0 {
		t.Fatalf("disable: %d %q %q", code, out, errs)
	}
	if code, out, errs = runCLI(t, "another-long-password\n", "user", "reset-password", "--data", data, "--login", "newbie"); code != 0 {
		t.Fatalf("reset-password: %d %q %q", code, out, errs)
	}
	// A lost authenticator is removed from the command line.
	sdb, err := sql.Open("sqlite", filepath.Join(data, "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	if _, err := sdb.Exec(`UPDATE agents SET totp_secret = 'JBSWY3DPEHPK3PXP' WHERE login = 'newbie'`); err != nil {
		t.Fatal(err)
	}
	if code, out, errs = runCLI(t, "", "user", "remove-totp", "--data", data, "--login", "newbie"); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("remove-totp: %d %q %q", code, out, errs)
	}
	var totp string
	if err := sdb.QueryRow(`SELECT totp_secret FROM agents WHERE login = 'newbie'`).Scan(&totp); err != nil || totp != "" {
		t.Fatalf("authenticator still there: %q %v", totp, err)
	}
	if code, _, _ = runCLI(t, "", "user", "remove-totp", "--data", data, "--login", "nobody-here"); code == 0 {
		t.Fatal("remove-totp of an unknown login succeeded")
	}
	code, out, errs = runCLI(t, "", "token", "create", "--data", data, "--name", "ledger-sync", "--scopes", "tickets:read,tickets:write")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "cst_") || strings.Contains(errs, "cst_") {
		t.Fatalf("token create: %d out=%q err=%q", code, out, errs)
	}
	if code, _, errs = runCLI(t, "", "token", "create", "--data", data, "--name", "x", "--scopes", "root:all"); code == 0 {
		t.Fatalf("bad scope accepted: %q", errs)
	}
	if code, out, _ = runCLI(t, "", "token", "list", "--data", data); code != 0 || !strings.Contains(out, "ledger-sync") {
		t.Fatalf("token list: %d %q", code, out)
	}
	if code, out, errs = runCLI(t, "", "audit", "verify", "--data", data); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("audit verify: %d %q %q", code, out, errs)
	}

	// Cut the newest entry off the end: the chain head still names it.
	db, err := sql.Open("sqlite", filepath.Join(data, "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	if err := db.QueryRow(`SELECT max(id) FROM audit`).Scan(&last); err != nil || last < 4 {
		t.Fatalf("audit entries: %d %v", last, err)
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE id = ?`, last); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs = runCLI(t, "", "audit", "verify", "--data", data)
	if code != 1 || !strings.Contains(errs, fmt.Sprintf("entry %d", last)) || !strings.Contains(errs, "missing at the end") {
		t.Fatalf("audit cut at the end: code %d, %q", code, errs)
	}

	// Tamper with one entry behind Custos's back: verify must fail and name it.
	db, err = sql.Open("sqlite", filepath.Join(data, "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET detail = '{"forged":true}' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs = runCLI(t, "", "audit", "verify", "--data", data)
	if code != 1 || !strings.Contains(errs, "entry 3") {
		t.Fatalf("tampered audit: code %d, %q", code, errs)
	}
	if code, out, _ = runCLI(t, "", "version"); code != 0 || !strings.HasPrefix(out, "custos ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// startChild runs `custos serve` in a child process and returns its URL.
func startChild(t *testing.T, data, addr string) (*exec.Cmd, string) {
	t.Helper()
	args, _ := json.Marshal([]string{"serve", "--data", data, "--addr", addr, "--log-level", "error"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CUSTOS_TEST_MAIN_ARGS="+string(args))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`running at (http://[^/\s]+)/`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return cmd, u
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child server did not start")
	}
	return nil, ""
}

type frame map[string]any

func dialCustomer(ctx context.Context, t *testing.T, base string, hello frame) (*websocket.Conn, frame) {
	t.Helper()
	c, _, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/chat/v1/ws", &websocket.DialOptions{Subprotocols: []string{"custos.chat.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := wsjson.Write(ctx, c, hello); err != nil {
		t.Fatal(err)
	}
	var w frame
	if err := wsjson.Read(ctx, c, &w); err != nil || w["type"] != "welcome" {
		t.Fatalf("welcome: %v %v", w, err)
	}
	return c, w
}

// TestKillMidConversationLosesNothing sends messages from several customers
// while the server process is killed with SIGKILL, restarts it on the same
// data directory, and checks that every acknowledged message is there, in
// order, exactly once, and that resends of unacknowledged ones do not
// duplicate anything.
func TestKillMidConversationLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns servers")
	}
	data := t.TempDir()
	cmd, base := startChild(t, data, "127.0.0.1:0")
	addr := strings.TrimPrefix(base, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const customers = 24
	type cust struct {
		device string
		conv   float64
		acked  map[string]float64 // client_id → seq
		sent   []string
	}
	cs := make([]*cust, customers)
	var wg sync.WaitGroup
	for i := range cs {
		cs[i] = &cust{acked: map[string]float64{}}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, w := dialCustomer(ctx, t, base, frame{"type": "hello", "v": 1, "site_key": "demo"})
			defer c.CloseNow()
			cs[i].device, _ = w["device_token"].(string)
			// Send until the connection dies; record every ack.
			for n := 0; n < 2000; n++ {
				id := fmt.Sprintf("k%d-%d", i, n)
				cs[i].sent = append(cs[i].sent, id)
				// Stay under the per-connection send rate (5/s) so every
				// send is accepted; many are in flight when the kill lands.
				time.Sleep(210 * time.Millisecond)
				if err := wsjson.Write(ctx, c, frame{"type": "send", "client_id": id, "text": "msg " + id}); err != nil {
					return
				}
				for {
					var f frame
					if err := wsjson.Read(ctx, c, &f); err != nil {
						return
					}
					if f["type"] == "error" {
						t.Errorf("customer %d: error frame %v", i, f)
						return
					}
					if f["type"] == "ack" {
						cs[i].acked[f["client_id"].(string)] = f["seq"].(float64)
						cs[i].conv = f["conversation_id"].(float64)
						break
					}
				}
			}
		}(i)
	}
	time.Sleep(2500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()

	cmd2, base2 := startChild(t, data, addr)
	defer func() { cmd2.Process.Signal(syscall.SIGTERM); cmd2.Wait() }()
	for i, c := range cs {
		if len(c.acked) == 0 {
			t.Fatalf("customer %d got no ack before the kill", i)
		}
		conn, w := dialCustomer(ctx, t, base2, frame{"type": "hello", "v": 1, "site_key": "demo", "device_token": c.device,
			"resume": frame{"conversation_id": c.conv, "last_seq": 0}})
		wconv, _ := w["conversation"].(map[string]any)
		if wconv == nil || wconv["id"].(float64) != c.conv {
			t.Fatalf("customer %d: welcome conversation %v, want %v", i, w["conversation"], c.conv)
		}
		storedSeq := wconv["last_seq"].(float64) // everything committed before the kill
		// Resend the last (maybe unacknowledged) message: never a duplicate.
		last := c.sent[len(c.sent)-1]
		if err := wsjson.Write(ctx, conn, frame{"type": "send", "client_id": last, "text": "msg " + last}); err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		var prev float64
		var lastAck frame
		for lastAck == nil {
			var f frame
			if err := wsjson.Read(ctx, conn, &f); err != nil {
				t.Fatalf("customer %d: %v", i, err)
			}
			if f["type"] == "message" {
				seq := f["seq"].(float64)
				if seq <= prev {
					t.Fatalf("customer %d: seq %v after %v", i, seq, prev)
				}
				prev = seq
				got[f["client_id"].(string)] = seq
			}
			if f["type"] == "ack" && f["client_id"] == last {
				lastAck = f
			}
		}
		for id, seq := range c.acked {
			if got[id] != seq {
				t.Fatalf("customer %d: acknowledged message %s (seq %v) lost after kill (got %v)", i, id, seq, got[id])
			}
		}
		// The resend is a duplicate exactly when the message had been
		// committed before the kill (its seq is within the welcome's
		// last_seq); if it had been acknowledged, it keeps its seq.
		lastSeq := lastAck["seq"].(float64)
		if wasStored := lastSeq <= storedSeq; lastAck["duplicate"] != wasStored || lastAck["conversation_id"] != c.conv {
			t.Fatalf("customer %d: resend ack %v: want duplicate %v (seq %v, %v committed before the kill) in conversation %v",
				i, lastAck, wasStored, lastSeq, storedSeq, c.conv)
		}
		if seq, ok := c.acked[last]; ok && (lastAck["duplicate"] != true || lastSeq != seq) {
			t.Fatalf("customer %d: resend of acknowledged %s: ack %v, want duplicate with seq %v", i, last, lastAck, seq)
		}
		// Resend the first acknowledged message: always a duplicate, with
		// its original seq.
		var first string
		for _, id := range c.sent {
			if _, ok := c.acked[id]; ok {
				first = id
				break
			}
		}
		if err := wsjson.Write(ctx, conn, frame{"type": "send", "client_id": first, "text": "msg " + first}); err != nil {
			t.Fatal(err)
		}
		for {
			var f frame
			if err := wsjson.Read(ctx, conn, &f); err != nil {
				t.Fatalf("customer %d: %v", i, err)
			}
			if f["type"] == "ack" && f["client_id"] == first {
				if f["duplicate"] != true || f["seq"] != c.acked[first] || f["conversation_id"] != c.conv {
					t.Fatalf("customer %d: resend of acknowledged %s: ack %v, want duplicate with seq %v", i, first, f, c.acked[first])
				}
				break
			}
		}
		conn.Close(websocket.StatusNormalClosure, "")

		// A fresh connection syncs the whole conversation: every customer
		// message exactly once, the resent ones included.
		conn2, w2 := dialCustomer(ctx, t, base2, frame{"type": "hello", "v": 1, "site_key": "demo", "device_token": c.device})
		if err := wsjson.Write(ctx, conn2, frame{"type": "sync", "after_seq": 0}); err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		var maxSeq float64
		for {
			var f frame
			if err := wsjson.Read(ctx, conn2, &f); err != nil {
				t.Fatalf("customer %d: sync: %v", i, err)
			}
			if f["type"] == "message" {
				if f["conversation_id"] != c.conv {
					t.Fatalf("customer %d: synced a message of conversation %v, want %v", i, f["conversation_id"], c.conv)
				}
				if id, _ := f["client_id"].(string); id != "" {
					count[id]++
				}
				maxSeq = max(maxSeq, f["seq"].(float64))
			}
			if f["type"] == "synced" {
				if f["last_seq"] != maxSeq || w2["conversation"].(map[string]any)["last_seq"] != maxSeq {
					t.Fatalf("customer %d: synced %v / welcome %v, want last_seq %v", i, f, w2["conversation"], maxSeq)
				}
				break
			}
		}
		for id, n := range count {
			if n != 1 {
				t.Fatalf("customer %d: message %s synced %d times, want once", i, id, n)
			}
		}
		for id := range c.acked {
			if count[id] != 1 {
				t.Fatalf("customer %d: acknowledged message %s synced %d times, want once", i, id, count[id])
			}
		}
		if count[last] != 1 {
			t.Fatalf("customer %d: resent message %s synced %d times, want once", i, last, count[last])
		}
		conn2.Close(websocket.StatusNormalClosure, "")
		t.Logf("customer %d: %d acknowledged before the kill, all present after restart; resending the last was a duplicate: %v",
			i, len(c.acked), lastAck["duplicate"])
	}
	resp, err := http.Get(base2 + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz after restart: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
