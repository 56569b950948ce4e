package localstore

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/storetest"
)

func openDir(t *testing.T, dir string) *Store {
	t.Helper()
	st, err := OpenDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDiskSurvivesReopen: samples, labels, models and the schema come back
// after the folder is closed and opened again, and through a file: URL.
func TestDiskSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openDir(t, dir)
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	samples := storetest.Samples(50, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "m1", 7)
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLabel(ctx, samples[3].ID, "42", time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, s := range samples {
		got, err := st.GetSample(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		want[s.ID] = storetest.Canonical(t, got)
	}
	// A second Store of the same folder shares the data; the folder stays
	// open until both are closed.
	st2 := openDir(t, dir)
	if n, _ := st2.Count(ctx); n != 50 {
		t.Fatalf("second open sees %d samples", n)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil { // twice is harmless
		t.Fatal(err)
	}
	if n, err := st2.Count(ctx); n != 50 || err != nil {
		t.Fatalf("after the first Close: %d, %v", n, err)
	}
	if err := st2.Close(); err != nil {
		t.Fatal(err)
	}

	back, err := store.Open(ctx, "file://"+dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if n, err := back.Count(ctx); n != 50 || err != nil {
		t.Fatalf("reopened: %d samples, %v (want 50: the schema and samples persist)", n, err)
	}
	for id, w := range want {
		got, err := back.GetSample(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c := storetest.Canonical(t, got); c != w {
			t.Fatalf("sample %s after reopen:\n%s\nwant\n%s", id, c, w)
		}
	}
}

// TestDiskTornTail: a record cut short by a crash is dropped, the ones
// before it are kept, and writing goes on after them.
func TestDiskTornTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openDir(t, dir)
	_ = st.EnsureSchema(ctx)
	samples := storetest.Samples(10, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "m1", 9)
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	st.Close()
	path := filepath.Join(dir, journalName)
	info, _ := os.Stat(path)
	if err := os.Truncate(path, info.Size()-5); err != nil { // tear the last record
		t.Fatal(err)
	}
	st = openDir(t, dir)
	if n, _ := st.Count(ctx); n != 9 {
		t.Fatalf("after a torn tail: %d samples, want 9", n)
	}
	if err := st.UpsertSamples(ctx, samples[9:]); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openDir(t, dir)
	defer st.Close()
	if n, _ := st.Count(ctx); n != 10 {
		t.Fatalf("after rewriting the torn sample: %d samples, want 10", n)
	}
}

// TestDiskLocked: another process (here: another open file description)
// cannot take a folder that is open.
func TestDiskLocked(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir)
	defer st.Close()
	f, err := os.Open(filepath.Join(dir, journalName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		t.Fatal("the journal of an open store is not locked")
	}
}

// TestDiskCompaction: rewriting the same samples grows the journal; a
// compaction shrinks it to the live documents and keeps every one.
func TestDiskCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openDir(t, dir)
	_ = st.EnsureSchema(ctx)
	st.sp.j.slack = 1 // compact as soon as the journal is twice the data
	samples := storetest.Samples(20, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "m1", 3)
	for round := 0; round < 10; round++ {
		for i := range samples {
			samples[i].Predictions = map[string]store.PredictionBody{"m1": storetest.Prediction("m1", round%10, time.Now())}
		}
		if err := st.UpsertSamples(ctx, samples); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := os.Stat(filepath.Join(dir, journalName))
	live := st.d.bytes + st.m.bytes
	if info.Size() > 3*live+64*int64(len(samples))*3 {
		t.Errorf("journal is %d bytes for %d live bytes: not compacted", info.Size(), live)
	}
	st.Close()
	st = openDir(t, dir)
	defer st.Close()
	for _, s := range samples {
		got, err := st.GetSample(ctx, s.ID)
		if err != nil || got.Predictions["m1"].Digits != samples[0].Predictions["m1"].Digits {
			t.Fatalf("after compaction, sample %s: %+v %v", s.ID, got.Predictions, err)
		}
	}
}

func TestDirOfURL(t *testing.T) {
	for _, tc := range []struct {
		url, want string
		ok        bool
	}{
		{"file:///var/lib/stratus", "/var/lib/stratus", true},
		{"file:stratus-data/store", "stratus-data/store", true},
		{"file://localhost/x", "/x", true},
		{"file://otherhost/x", "", false},
		{"file://", "", false},
		{"http://x", "", false},
	} {
		got, err := DirOfURL(tc.url)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("DirOfURL(%q) = %q, %v", tc.url, got, err)
		}
	}
}
