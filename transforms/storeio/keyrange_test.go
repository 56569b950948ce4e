package storeio

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratusml/stratus/store/storetest"
)

func TestKeyRangeBasics(t *testing.T) {
	r := KeyRange{Start: "b", End: "d"}
	for key, want := range map[string]bool{"a": false, "b": true, "b\x00": true, "czzz": true, "d": false, "e": false} {
		if got := r.Contains(key); got != want {
			t.Errorf("%v.Contains(%q) = %v", r, key, got)
		}
	}
	open := KeyRange{Start: "b"}
	if !open.Contains("zzzz\xff") || open.Contains("a") || open.IsEmpty() {
		t.Errorf("open range %v", open)
	}
	for _, e := range []KeyRange{{"b", "b"}, {"c", "b"}, emptyRange} {
		if !e.IsEmpty() || e.Contains("b") || e.Size() != 0 {
			t.Errorf("%v should be empty", e)
		}
	}
	if (KeyRange{}).IsEmpty() || (KeyRange{}).Size() != 1 {
		t.Errorf("the whole key space: empty=%v size=%v", (KeyRange{}).IsEmpty(), (KeyRange{}).Size())
	}
	if got := (KeyRange{Start: "\x40"}).Size(); got != 0.5 {
		t.Errorf("size of [0x40, ∞) = %v, want 0.5", got)
	}
}

func ulids(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	out := make([]string, n)
	for i := range out {
		out[i] = storetest.ULID(t0.Add(time.Duration(r.IntN(3600_000))*time.Millisecond), r)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func uuids(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]string, n)
	for i := range out {
		out[i] = storetest.UUID(r)
	}
	sort.Strings(out)
	return out
}

// checkPartition checks that parts are contiguous, non-empty, and cover
// exactly r.
func checkPartition(t *testing.T, r KeyRange, parts []KeyRange) {
	t.Helper()
	if len(parts) == 0 || parts[0].Start != r.Start || parts[len(parts)-1].End != r.End {
		t.Fatalf("split of %v = %v: does not cover it", r, parts)
	}
	for i, p := range parts {
		if p.IsEmpty() && !r.IsEmpty() {
			t.Fatalf("split of %v: part %d %v is empty", r, i, p)
		}
		if i > 0 && parts[i-1].End != p.Start {
			t.Fatalf("split of %v: parts %d and %d do not meet: %v", r, i-1, i, parts)
		}
		if i < len(parts)-1 && (!utf8.ValidString(p.End) || strings.IndexFunc(p.End, func(c rune) bool { return c > 0x7f }) >= 0) {
			t.Fatalf("split point %q is not ASCII", p.End)
		}
	}
}

func TestSplitEven(t *testing.T) {
	for name, keys := range map[string][]string{"ulid": ulids(5000, 1), "uuid": uuids(5000, 2)} {
		r := KeyRange{Start: keys[0], End: keys[len(keys)-1] + "\x00"}
		parts := r.Split(8)
		checkPartition(t, r, parts)
		if len(parts) != 8 {
			t.Fatalf("%s: %d parts, want 8", name, len(parts))
		}
		var sizes []float64
		for _, p := range parts {
			sizes = append(sizes, p.Size())
		}
		for _, s := range sizes {
			if math.Abs(s/sizes[0]-1) > 1e-6 {
				t.Errorf("%s: sizes not equal: %v", name, sizes)
				break
			}
		}
		// Each key in exactly one part; uniform keys spread evenly.
		counts := make([]int, len(parts))
		for _, k := range keys {
			n := 0
			for i, p := range parts {
				if p.Contains(k) {
					counts[i]++
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%s: key %s in %d parts", name, k, n)
			}
		}
		if name == "uuid" {
			for _, c := range counts {
				if c < 500 || c > 750 {
					t.Errorf("uuid: keys per part %v, want about 625 each", counts)
					break
				}
			}
		}
		t.Logf("%s: keys per part %v", name, counts)
	}
}

func TestSplitEdgeCases(t *testing.T) {
	for _, r := range []KeyRange{
		{},                             // the whole key space
		{Start: "01JD"},                // open end
		{Start: "a", End: "a\x00"},     // one key: cannot split
		{Start: "a", End: "a\x00\x01"}, // narrow
		{Start: "a", End: "b"},
		{Start: "abc", End: "abd"},
		{Start: "\xff\xfe", End: "\xff\xff"}, // above ASCII: positions clamp
		{Start: "x", End: "x"},               // empty
		{Start: "0000", End: "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"},
		{Start: strings.Repeat("Q", 200) + "A", End: strings.Repeat("Q", 200) + "B"}, // long shared prefix
	} {
		for _, n := range []int{0, 1, 2, 3, 7, 100} {
			parts := r.Split(n)
			checkPartition(t, r, parts)
			if n <= 1 && len(parts) != 1 {
				t.Errorf("%v.Split(%d) = %d parts", r, n, len(parts))
			}
		}
	}
	if parts := (KeyRange{Start: "a", End: "a\x00"}).Split(4); len(parts) != 1 {
		t.Errorf("a one-key range split into %v", parts)
	}
	if parts := (KeyRange{Start: strings.Repeat("Q", 200) + "A", End: strings.Repeat("Q", 200) + "B"}).Split(10); len(parts) != 10 {
		t.Errorf("a long-prefix range split into %d parts, want 10", len(parts))
	}
}

func TestKeyAt(t *testing.T) {
	r := KeyRange{Start: "a", End: "c"}
	k, ok := r.KeyAt(0.5)
	if !ok || k != "b" {
		t.Errorf("KeyAt(0.5) of [a, c) = %q, %v; want b", k, ok)
	}
	for _, f := range []float64{0, 1, -1, 2, math.NaN()} {
		if _, ok := r.KeyAt(f); ok {
			t.Errorf("KeyAt(%v) gave a key", f)
		}
	}
	prev := r.Start
	for i := 1; i < 100; i++ {
		k, ok := r.KeyAt(float64(i) / 100)
		if !ok || k <= prev || !r.Contains(k) {
			t.Fatalf("KeyAt(%d%%) = %q, %v after %q", i, k, ok, prev)
		}
		prev = k
	}
}

func TestTrackerClaims(t *testing.T) {
	tr := NewKeyRangeTracker(KeyRange{Start: "b", End: "e"})
	if tr.IsDone() {
		t.Fatal("done before any claim")
	}
	for _, k := range []string{"b", "c", "c\x00", "d"} {
		if !tr.TryClaim(k) {
			t.Fatalf("claim %q refused: %v", k, tr.GetError())
		}
	}
	if tr.IsDone() {
		t.Fatal("done with keys left")
	}
	if tr.TryClaim("e") || tr.GetError() != nil || !tr.IsDone() {
		t.Fatalf("claim of the end: done=%v err=%v", tr.IsDone(), tr.GetError())
	}
	if tr.TryClaim("f") || tr.GetError() == nil || tr.IsDone() {
		t.Fatalf("claim after false: err=%v", tr.GetError())
	}

	tr = NewKeyRangeTracker(KeyRange{Start: "b", End: "e"})
	if tr.TryClaim(EndOfRange) || !tr.IsDone() || tr.GetError() != nil {
		t.Fatalf("EndOfRange: done=%v err=%v", tr.IsDone(), tr.GetError())
	}
	for name, claims := range map[string][]any{
		"before start":   {"a"},
		"not increasing": {"c", "c"},
		"going back":     {"c", "b"},
		"wrong type":     {42},
	} {
		tr := NewKeyRangeTracker(KeyRange{Start: "b", End: "e"})
		for i, c := range claims {
			ok := tr.TryClaim(c)
			if last := i == len(claims)-1; ok == last {
				t.Errorf("%s: claim %d (%v) = %v", name, i, c, ok)
			}
		}
		if tr.GetError() == nil || tr.IsDone() {
			t.Errorf("%s: err=%v done=%v", name, tr.GetError(), tr.IsDone())
		}
	}
	// Open end: only EndOfRange finishes it.
	tr = NewKeyRangeTracker(KeyRange{Start: "b"})
	if !tr.TryClaim("zzzz") || tr.IsDone() || tr.TryClaim(EndOfRange) || !tr.IsDone() {
		t.Fatal("open-ended range")
	}
}

func TestTrackerSplits(t *testing.T) {
	r := KeyRange{Start: "b", End: "f"}
	// Checkpoint before any claim: nothing left for the primary.
	tr := NewKeyRangeTracker(r)
	p, res, err := tr.TrySplit(0)
	if err != nil || p.(KeyRange) != (KeyRange{"b", "b"}) || res.(KeyRange) != r || !tr.IsDone() {
		t.Fatalf("TrySplit(0) first: %v, %v, %v, done=%v", p, res, err, tr.IsDone())
	}
	// Checkpoint after claims: split just after the last claimed key.
	tr = NewKeyRangeTracker(r)
	tr.TryClaim("c")
	p, res, err = tr.TrySplit(0)
	if err != nil || p.(KeyRange) != (KeyRange{"b", "c\x00"}) || res.(KeyRange) != (KeyRange{"c\x00", "f"}) || !tr.IsDone() {
		t.Fatalf("TrySplit(0) after c: %v, %v, %v, done=%v", p, res, err, tr.IsDone())
	}
	if tr.TryClaim("c\x00") {
		t.Fatal("claimed the residual's first key")
	}
	// Half of the rest.
	tr = NewKeyRangeTracker(r)
	tr.TryClaim("c")
	p, res, _ = tr.TrySplit(0.5)
	pr, rr := p.(KeyRange), res.(KeyRange)
	if pr.Start != "b" || pr.End != rr.Start || rr.End != "f" || !(rr.Start > "c") {
		t.Fatalf("TrySplit(0.5) after c: %v, %v", pr, rr)
	}
	if d := rr.Size() / (KeyRange{Start: "c\x00", End: "f"}).Size(); math.Abs(d-0.5) > 0.01 {
		t.Errorf("residual is %.3f of the rest, want 0.5", d)
	}
	if !tr.TryClaim("d") || tr.TryClaim(rr.Start) || !tr.IsDone() {
		t.Errorf("claims around the split point %q", rr.Start)
	}
	// Splitting a done tracker, or at 1, gives no residual.
	if _, res, _ := tr.TrySplit(0.5); res != nil {
		t.Errorf("split of a done tracker: %v", res)
	}
	tr = NewKeyRangeTracker(KeyRange{Start: "a", End: "a\x00"})
	if _, res, _ := tr.TrySplit(0.5); res != nil {
		t.Errorf("split of a one-key range: %v", res)
	}
	tr = NewKeyRangeTracker(r)
	if _, res, _ := tr.TrySplit(1); res != nil {
		t.Errorf("TrySplit(1): %v", res)
	}
	// An open end can be split.
	tr = NewKeyRangeTracker(KeyRange{Start: "01JD"})
	tr.TryClaim("01JE")
	if _, res, _ := tr.TrySplit(0.25); res == nil || res.(KeyRange).End != "" || res.(KeyRange).Start <= "01JE" {
		t.Errorf("open-ended split: %v", res)
	}
}

func TestTrackerProgress(t *testing.T) {
	keys := ulids(1000, 3)
	r := KeyRange{Start: keys[0], End: keys[len(keys)-1] + "\x00"}
	tr := NewKeyRangeTracker(r)
	done, rem := tr.GetProgress()
	if done != 0 || math.Abs(rem-r.Size()) > r.Size()*1e-9 {
		t.Fatalf("progress before claims: %v, %v (size %v)", done, rem, r.Size())
	}
	prev := -1.0
	for i, k := range keys {
		tr.TryClaim(k)
		done, rem := tr.GetProgress()
		if done < prev || math.Abs(done+rem-r.Size()) > r.Size()*1e-9 {
			t.Fatalf("progress at %d: %v + %v, size %v (previous done %v)", i, done, rem, r.Size(), prev)
		}
		if i == len(keys)/2 {
			if f := done / r.Size(); f < 0.4 || f > 0.6 {
				t.Errorf("progress half way through uniform keys = %.2f", f)
			}
		}
		prev = done
	}
	tr.TryClaim(EndOfRange)
	done, rem = tr.GetProgress()
	if rem != 0 || math.Abs(done-r.Size()) > r.Size()*1e-9 {
		t.Errorf("progress at the end: %v, %v", done, rem)
	}
}

// TestTrackerSimulation reads sorted keys the way readFn does while a
// "runner" splits the running tracker at random fractions and queues the
// residuals: every key must be read exactly once.
func TestTrackerSimulation(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		keys := ulids(800, seed)
		if seed%2 == 1 {
			keys = uuids(800, seed)
		}
		whole := KeyRange{Start: keys[0], End: keys[len(keys)-1] + "\x00"}
		queue := whole.Split(1 + r.IntN(6))
		seen := map[string]int{}
		splits := 0
		for len(queue) > 0 {
			rest := queue[0]
			queue = queue[1:]
			tr := NewKeyRangeTracker(rest)
			i := sort.SearchStrings(keys, rest.Start)
			refused := false
			for ; i < len(keys) && (rest.End == "" || keys[i] < rest.End); i++ {
				if r.IntN(50) == 0 {
					f := r.Float64()
					if r.IntN(4) == 0 {
						f = 0
					}
					if _, res, err := tr.TrySplit(f); err != nil {
						t.Fatal(err)
					} else if res != nil {
						queue = append(queue, res.(KeyRange))
						splits++
					}
				}
				if !tr.TryClaim(keys[i]) {
					refused = true
					break
				}
				seen[keys[i]]++
			}
			if !refused {
				tr.TryClaim(EndOfRange)
			}
			if !tr.IsDone() || tr.GetError() != nil {
				t.Fatalf("seed %d: tracker %v not done: %v", seed, tr, tr.GetError())
			}
		}
		for _, k := range keys {
			if seen[k] != 1 {
				t.Fatalf("seed %d: key %s read %d times (%d splits)", seed, k, seen[k], splits)
			}
		}
		if len(seen) != len(keys) {
			t.Fatalf("seed %d: read %d keys, want %d", seed, len(seen), len(keys))
		}
	}
}

func TestKeyRangeCoder(t *testing.T) {
	for _, r := range []KeyRange{{}, {Start: "01JD"}, {Start: "a\x00b", End: "\xff\xfe"}, emptyRange} {
		b, err := encodeKeyRange(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeKeyRange(b)
		if err != nil || got != r {
			t.Errorf("round trip of %v: %v, %v", r, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {5, 'a'}, {1, 'a', 1, 'b', 9}} {
		if _, err := decodeKeyRange(bad); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}
