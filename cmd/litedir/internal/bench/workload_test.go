package bench

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/litedir/litedir/workspace"
)

func TestNewWorkload(t *testing.T) {
	for _, name := range workloadNames {
		w, ok := newWorkload(name, 100)
		if !ok || w.name() != name {
			t.Errorf("newWorkload(%q) = %v, %v; want the workload of that name", name, w, ok)
		}
	}
	if w, ok := newWorkload("orm", 100); ok || w != nil {
		t.Errorf(`newWorkload("orm") = %v, %v; want none`, w, ok)
	}
	// The baseline runs sqlc-generated code in autocommit, the hand-written
	// plain workload in one transaction per write.
	for name, want := range map[string]bool{workloadPlain: false, workloadSQLC: true, workloadClient: true} {
		if w, _ := newWorkload(name, 100); w.autocommit() != want {
			t.Errorf("%s: got autocommit %v, want %v", name, w.autocommit(), want)
		}
	}
}

// clientPart is the shape of one of a client message's parts.
type clientPart struct {
	Type string `json:"type"`
	Data struct {
		Text string `json:"text"`
		Name string `json:"name"`
	} `json:"data"`
}

func TestClientParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{10, 200, 201, 999, 4096} {
		for _, assistant := range []bool{false, true} {
			key := writeKey(3, size)
			parts := clientParts(rng, key, size, assistant)
			var got []clientPart
			if err := json.Unmarshal([]byte(parts), &got); err != nil {
				t.Fatalf("size %d, assistant %v: not JSON: %v\n%s", size, assistant, err, parts)
			}
			if len(got) == 0 || got[0].Type != "text" || !strings.HasPrefix(got[0].Data.Text, key) {
				t.Errorf("size %d: got %s, want a first text part starting with %q", size, parts, key)
			}
			if strings.Count(got[0].Data.Text, ":") != 1 {
				t.Errorf("size %d: got text %q, want the key's ':' alone", size, got[0].Data.Text)
			}
			// An assistant's message has a tool call where there is room.
			call := slices.ContainsFunc(got, func(p clientPart) bool { return p.Type == "tool_call" })
			if want := assistant && size >= 999; call != want {
				t.Errorf("size %d, assistant %v: got %s, want a tool call: %v", size, assistant, parts, want)
			}
			// Exact, unless the size is too small for the key and the JSON.
			if size >= 200 && len(parts) != size {
				t.Errorf("size %d, assistant %v: got %d bytes", size, assistant, len(parts))
			}
		}
	}
}

func TestClientMessageSizes(t *testing.T) {
	w := clientWorkload{}
	sessions := []any{"a", "b"}
	var sizes []int
	for n := range 2000 {
		m := w.message(rand.New(rand.NewPCG(7, uint64(n))), writeKey(0, n), n, sessions)
		sizes = append(sizes, len(m.text))
		if m.sessionID != "a" && m.sessionID != "b" {
			t.Fatalf("message %d: got session %v, want one of %v", n, m.sessionID, sessions)
		}
		if (m.role == "assistant") != (m.model != "" && m.tokensIn > 0 && m.tokensOut > 0 && m.cost > 0) {
			t.Fatalf("message %d: role %s with model %q, tokens %d/%d, cost %v: want usage on assistants only",
				n, m.role, m.model, m.tokensIn, m.tokensOut, m.cost)
		}
	}
	slices.Sort(sizes)
	if lo, hi := sizes[0], sizes[len(sizes)-1]; lo < clientPartsMin || hi > clientPartsMax {
		t.Errorf("sizes from %d to %d bytes, want within %d–%d", lo, hi, clientPartsMin, clientPartsMax)
	}
	// Log-uniform: the median is the geometric mean of the bounds, 905.
	if med := sizes[len(sizes)/2]; med < 750 || med > 1100 {
		t.Errorf("median size %d bytes, want about 905", med)
	}
	// The same seed draws the same message: every phase writes the same.
	a := w.message(rand.New(rand.NewPCG(7, 1)), "k:", 1, sessions)
	b := w.message(rand.New(rand.NewPCG(7, 1)), "k:", 1, sessions)
	if a.text != b.text || a.sessionID != b.sessionID || a.tokensIn != b.tokensIn {
		t.Errorf("same seed, different messages:\n%+v\n%+v", a, b)
	}
	if a.id == b.id {
		t.Errorf("two messages share the id %s", a.id)
	}
}

func TestNewUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newUUID()
		if !re.MatchString(id) {
			t.Fatalf("got %q, want a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("got %q twice", id)
		}
		seen[id] = true
	}
}

// TestClientSchema checks the shape the client workload claims: three
// indexes, a trigger that counts messages, and the generated calls
// running on a Write's Querier and on the front alike.
func TestClientSchema(t *testing.T) {
	ctx := context.Background()
	ws, err := workspace.Open(ctx, t.TempDir(), &workspace.Options{Migrations: clientSchema})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	db := ws.DB()
	var indexes, triggers int
	if err := db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL),
		(SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'messages')`).Scan(&indexes, &triggers); err != nil {
		t.Fatal(err)
	}
	if indexes != 3 || triggers != 2 {
		t.Errorf("got %d indexes and %d triggers, want 3 and 2", indexes, triggers)
	}

	w := clientWorkload{}
	var sessions []any
	if err := ws.Write(ctx, func(q workspace.Querier) (err error) {
		sessions, err = w.addSessions(ctx, q, 2)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for n := range 4 {
		m := w.message(rng, writeKey(0, n), n, sessions[:1])
		m.at = int64(1000 + n)
		if n%2 == 0 {
			err = ws.Write(ctx, func(q workspace.Querier) error { return w.store(ctx, q, m) })
		} else {
			err = w.store(ctx, ws.SQL(), m)
		}
		if err != nil {
			t.Fatalf("store %d: %v", n, err)
		}
	}
	var count, prompt int64
	if err := db.QueryRowContext(ctx, "SELECT message_count, prompt_tokens FROM sessions WHERE id = ?", sessions[0]).Scan(&count, &prompt); err != nil {
		t.Fatal(err)
	}
	if count != 4 || prompt == 0 {
		t.Errorf("got message_count %d, prompt_tokens %d; want 4 counted by the trigger and the assistants' tokens", count, prompt)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM messages WHERE rowid = (SELECT max(rowid) FROM messages)"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	rows, err := db.QueryContext(ctx, w.keys(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"w0.0:", "w0.1:", "w0.2:"}; !slices.Equal(keys, want) {
		t.Errorf("keys: got %q, want %q", keys, want)
	}
	for _, read := range []int{0, 1} {
		if err := w.read(ctx, ws.SQL(), rng, read, sessions, 0); err != nil {
			t.Errorf("read %d: %v", read, err)
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT message_count FROM sessions WHERE id = ?", sessions[0]).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 3 {
		t.Errorf("after a delete: got message_count %d, want 3", count)
	}
}
