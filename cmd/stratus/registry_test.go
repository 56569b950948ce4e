package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
	"github.com/stratusml/stratus/store/storetest"
)

// stratus runs the command line in this process and returns stdout,
// stderr and the exit status.
func stratus(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environment{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	env.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	code := run(context.Background(), env, args)
	return out.String(), errb.String(), code
}

// TestRegistryAndRescoreCommands: models register/activate/list/show and
// rescore (twice: the second writes nothing) on an in-memory store.
func TestRegistryAndRescoreCommands(t *testing.T) {
	const url = "mem://clitest"
	t.Cleanup(func() { localstore.Drop("clitest", "") })
	ctx := context.Background()
	st := localstore.Open("clitest", "")
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	var samples []store.Sample
	for i := range 200 {
		s := store.Sample{ID: "s" + strconv.Itoa(1000+i), Mode: "digit", Input28: [][]byte{append([]byte(nil), test.Images[i][:]...)},
			CreatedAt: time.Date(2026, 11, 25, 10, 0, i, 0, time.UTC)}
		if i%2 == 0 {
			s.Label = strconv.Itoa(int(test.Labels[i]))
		}
		samples = append(samples, s)
	}
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "m.stratus")
	if err := os.WriteFile(file, storetest.ModelFiles(t, 2)[1], 0o644); err != nil {
		t.Fatal(err)
	}

	out, errs, code := stratus(t, "models", "list", "--couchdb", url)
	if code != 0 || !strings.Contains(out, "no models registered") {
		t.Fatalf("list of an empty registry: %d %q %q", code, out, errs)
	}
	out, errs, code = stratus(t, "models", "register", "--couchdb", url, "--model", file)
	if code != 0 || !strings.Contains(out, "registered") {
		t.Fatalf("register: %d %q %q", code, out, errs)
	}
	id := strings.Fields(out)[1]
	if _, _, code = stratus(t, "models", "activate", "--couchdb", url, id); code != 0 {
		t.Fatal("activate failed")
	}
	out, _, _ = stratus(t, "models", "list", "--couchdb", url)
	if !strings.Contains(out, "*") || !strings.Contains(out, id) {
		t.Errorf("list after activate:\n%s", out)
	}
	if out, errs, code = stratus(t, "models", "show", "--couchdb", url, "--model", id); code != 0 || !strings.Contains(out, `"id": "`+id+`"`) {
		t.Errorf("show by id: %d %q %q", code, out, errs)
	}
	if _, _, code = stratus(t, "models", "activate", "--couchdb", url, "cnn2-v1-000000000000"); code == 0 {
		t.Error("activating an unknown model succeeded")
	}

	out, errs, code = stratus(t, "rescore", "--couchdb", url, "--model", id)
	if code != 0 {
		t.Fatalf("rescore: %d %q %q", code, out, errs)
	}
	for _, want := range []string{"200 samples scored", "200 predictions written", "accuracy against user labels", "confusion matrix", "summary stored as rescore:" + id} {
		if !strings.Contains(out, want) {
			t.Errorf("rescore output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = stratus(t, "rescore", "--couchdb", url, "--model", id, "--json", "--only-labelled", "--read", "ranges")
	var sum store.RescoreSummary
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil {
		t.Fatalf("rescore --json: %d %q", code, out)
	}
	if sum.Scored != 100 || sum.Written != 0 || sum.Labelled != 100 {
		t.Errorf("second run (labelled only): %+v", sum)
	}
	if _, _, code = stratus(t, "rescore", "--couchdb", url, "--model", "nope"); code == 0 {
		t.Error("rescore with an unknown model succeeded")
	}
	if _, _, code = stratus(t, "rescore", "--couchdb", url); code != 2 {
		t.Errorf("rescore without --model: exit %d, want 2", code)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"24h":                  now.Add(-24 * time.Hour),
		"2026-11-25T10:00:00Z": time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("want an error")
	}
}
