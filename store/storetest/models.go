package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/store"
)

// The registry part of the contract (store.Registry), run by Run.

var (
	filesOnce sync.Once
	files     [][]byte
	filesErr  error
)

// ModelFiles returns n distinct valid model files (n ≤ 4): the shipped model
// and copies of it with one weight nudged (so other ids), for tests of
// registries.
func ModelFiles(t testing.TB, n int) [][]byte {
	t.Helper()
	filesOnce.Do(func() {
		def, err := model.Default()
		if err != nil {
			filesErr = err
			return
		}
		for i := range 4 {
			m := def.Clone()
			if i > 0 {
				m.Weights[model.ParamFC2W][0] += float32(i) * 1e-3
				m.CreatedAt = m.CreatedAt.Add(time.Duration(i) * time.Hour)
			}
			var buf bytes.Buffer
			if err := m.Encode(&buf); err != nil {
				filesErr = err
				return
			}
			files = append(files, buf.Bytes())
		}
	})
	if filesErr != nil {
		t.Fatal(filesErr)
	}
	if n > len(files) {
		t.Fatalf("ModelFiles: at most %d", len(files))
	}
	return files[:n]
}

func registryTests() []struct {
	name string
	fn   func(t *testing.T, ctx context.Context, st store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, st store.Store)
	}{
		{"ModelsRegister", testModelsRegister},
		{"ModelsActivate", testModelsActivate},
		{"ModelsRefuseBadFiles", testModelsBad},
		{"Rescores", testRescores},
	}
}

func testModelsRegister(t *testing.T, ctx context.Context, st store.Store) {
	if _, err := st.ActiveModel(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ActiveModel of an empty registry: %v, want ErrNotFound", err)
	}
	if got, err := st.ListModels(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListModels of an empty registry: %v, %v", got, err)
	}
	fs := ModelFiles(t, 2)
	a, err := st.PutModel(ctx, fs[0])
	if err != nil {
		t.Fatalf("PutModel: %v", err)
	}
	want, m, err := store.NewModelInfo(fs[0])
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != m.ID || a.SHA256 != m.SHA256 || a.Arch != m.Arch || a.Metrics != m.Metrics || a.FileSize != len(fs[0]) ||
		a.FileSHA256 != want.FileSHA256 || a.Active || a.RegisteredAt.IsZero() || !a.CreatedAt.Equal(store.TruncTime(m.CreatedAt)) {
		t.Errorf("PutModel = %+v, want the file's header (%s)", a, m.ID)
	}
	again, err := st.PutModel(ctx, fs[0])
	if err != nil || again != a {
		t.Errorf("second PutModel = %+v, %v; want the stored %+v", again, err, a)
	}
	got, err := st.GetModel(ctx, a.ID)
	if err != nil || got != a {
		t.Errorf("GetModel = %+v, %v; want %+v", got, err, a)
	}
	file, err := st.ModelFile(ctx, a.ID)
	if err != nil || !bytes.Equal(file, fs[0]) {
		t.Fatalf("ModelFile: %d bytes, %v; want the %d bytes registered", len(file), err, len(fs[0]))
	}
	lm, err := store.LoadModel(ctx, st, a.ID)
	if err != nil || lm.ID != a.ID {
		t.Fatalf("LoadModel: %v", err)
	}
	b, err := st.PutModel(ctx, fs[1])
	if err != nil {
		t.Fatal(err)
	}
	if b.ID == a.ID {
		t.Fatal("two model files, one id")
	}
	all, err := st.ListModels(ctx)
	if err != nil || len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("ListModels = %v, %v; want [%s %s] (registration order)", modelIDs(all), err, a.ID, b.ID)
	}
	if _, err := st.GetModel(ctx, "cnn2-v1-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetModel of an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := st.ModelFile(ctx, "cnn2-v1-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ModelFile of an unknown id: %v, want ErrNotFound", err)
	}
}

func modelIDs(ms []store.ModelInfo) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func testModelsActivate(t *testing.T, ctx context.Context, st store.Store) {
	fs := ModelFiles(t, 3)
	var reg []store.ModelInfo
	for _, f := range fs {
		m, err := st.PutModel(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		reg = append(reg, m)
	}
	if err := st.ActivateModel(ctx, "cnn2-v1-000000000000", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ActivateModel of an unknown id: %v, want ErrNotFound", err)
	}
	at := t0
	for round, i := range []int{1, 0, 2, 2} {
		at = at.Add(time.Second)
		if err := st.ActivateModel(ctx, reg[i].ID, at); err != nil {
			t.Fatalf("round %d: ActivateModel(%s): %v", round, reg[i].ID, err)
		}
		act, err := st.ActiveModel(ctx)
		if err != nil || act.ID != reg[i].ID || !act.Active || !act.ActivatedAt.Equal(store.TruncTime(at)) {
			t.Fatalf("round %d: ActiveModel = %s (active %v at %v), %v; want %s at %v", round, act.ID, act.Active, act.ActivatedAt, err, reg[i].ID, at)
		}
		all, err := st.ListModels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range all {
			if m.Active {
				n++
			}
		}
		if n != 1 {
			t.Errorf("round %d: %d models marked active, want 1", round, n)
		}
	}
	// Registering the active model again keeps it active.
	again, err := st.PutModel(ctx, fs[2])
	if err != nil || !again.Active {
		t.Errorf("PutModel of the active model: active %v, %v", again.Active, err)
	}
	// The file survives activation (attachment kept on update).
	if _, err := store.LoadModel(ctx, st, reg[2].ID); err != nil {
		t.Errorf("LoadModel after activation: %v", err)
	}
}

func testModelsBad(t *testing.T, ctx context.Context, st store.Store) {
	f := append([]byte(nil), ModelFiles(t, 1)[0]...)
	f[len(f)/2] ^= 1
	if _, err := st.PutModel(ctx, f); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutModel of a corrupted file: %v, want ErrInvalid", err)
	}
	if _, err := st.PutModel(ctx, []byte("not a model")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutModel of garbage: %v, want ErrInvalid", err)
	}
	if all, err := st.ListModels(ctx); err != nil || len(all) != 0 {
		t.Errorf("ListModels after refused files: %v, %v", modelIDs(all), err)
	}
}

func testRescores(t *testing.T, ctx context.Context, st store.Store) {
	fs := ModelFiles(t, 2)
	a, err := st.PutModel(ctx, fs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutModel(ctx, fs[1]); err != nil {
		t.Fatal(err)
	}
	sum := store.RescoreSummary{
		ID: store.RescoreID(a.ID, "run1"), Model: a.ID, RunID: "run1", Runner: "prism",
		StartedAt: t0, FinishedAt: t0.Add(time.Second), Since: t0.Add(-time.Hour), OnlyLabelled: true,
		Scored: 10, Written: 10, Labelled: 4, Correct: 3, Compared: 10, Changed: 2,
		ChangedFrom: map[string]int64{"m0": 2},
	}
	sum.Confusion[7][7] = 3
	sum.Confusion[7][1] = 1
	sum.Finish()
	if err := st.PutRescore(ctx, sum); err != nil {
		t.Fatalf("PutRescore: %v", err)
	}
	sum2 := sum
	sum2.ID, sum2.RunID, sum2.StartedAt = store.RescoreID(a.ID, "run2"), "run2", t0.Add(time.Minute)
	if err := st.PutRescore(ctx, sum2); err != nil {
		t.Fatal(err)
	}
	sum.Written = 0 // replace run1
	if err := st.PutRescore(ctx, sum); err != nil {
		t.Fatalf("PutRescore again: %v", err)
	}
	got, err := st.GetRescore(ctx, sum.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Written != 0 || got.Confusion != sum.Confusion || got.Accuracy != 0.75 || !got.StartedAt.Equal(store.TruncTime(t0)) ||
		got.ChangedFrom["m0"] != 2 || !got.OnlyLabelled || got.Runner != "prism" {
		t.Errorf("GetRescore = %+v, want %+v", got, sum)
	}
	list, err := st.ListRescores(ctx, a.ID)
	if err != nil || len(list) != 2 || list[0].RunID != "run1" || list[1].RunID != "run2" {
		t.Errorf("ListRescores = %d summaries, %v", len(list), err)
	}
	if all, err := st.ListModels(ctx); err != nil || len(all) != 2 {
		t.Errorf("ListModels with summaries stored: %v, %v; want the 2 models only", modelIDs(all), err)
	}
	if _, err := st.GetRescore(ctx, store.RescoreID(a.ID, "nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRescore of an unknown id: %v", err)
	}
}
