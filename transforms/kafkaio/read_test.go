package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/segmentio/kafka-go"
)

// harness drives readFn the way the SDK harness does, without a runner or
// a broker: StartBundle, CreateTracker, ProcessElement, and the checkpoint
// split at fraction 0.
type harness struct {
	t      *testing.T
	fn     *readFn
	broker *fakeBroker

	mu      sync.Mutex
	sources map[int][]*fakeSource
}

func newHarness(t *testing.T, partitions int, edit func(*ReadConfig)) *harness {
	t.Helper()
	cfg := ReadConfig{
		Brokers:     []string{"fake:9092"},
		Topic:       "t",
		GroupID:     "g",
		PollTimeout: 40 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, broker: newFakeBroker(partitions), sources: map[int][]*fakeSource{}}
	h.fn = &readFn{Config: cfg.withDefaults(), broker: h.broker}
	h.fn.newSource = func(p int) partitionSource {
		s := &fakeSource{log: h.broker.logs[p], partition: p, topic: "t"}
		h.mu.Lock()
		h.sources[p] = append(h.sources[p], s)
		h.mu.Unlock()
		return s
	}
	if err := h.fn.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.fn.Teardown() })
	return h
}

func (h *harness) sourcesOf(p int) []*fakeSource {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sources[p])
}

// element is a partition's element as the runner keeps it between bundles.
type element struct {
	p    partitionStart
	rest offsetrange.Restriction
	we   int64
	done bool
}

func newElement(p int, start int64) *element {
	return &element{
		p:    partitionStart{Topic: "t", Partition: p, Start: start},
		rest: offsetrange.Restriction{Start: start, End: math.MaxInt64},
		we:   mtime.MinTimestamp.Milliseconds(),
	}
}

type emitted struct {
	et  time.Time
	rec Record
}

type result struct {
	out  []emitted
	cont sdf.ProcessContinuation
	took time.Duration
}

// process runs one element in the current bundle and applies the
// checkpoint like the SDK does.
func (h *harness) process(e *element) result {
	h.t.Helper()
	rt, err := h.fn.CreateTracker(e.rest)
	if err != nil {
		h.t.Fatal(err)
	}
	we := h.fn.CreateWatermarkEstimator(e.we)
	var res result
	start := time.Now()
	cont, err := h.fn.ProcessElement(context.Background(), we, rt, e.p, func(et beam.EventTime, r Record) {
		res.out = append(res.out, emitted{et: et.ToTime(), rec: r})
	})
	res.took = time.Since(start)
	if err != nil {
		h.t.Fatalf("ProcessElement(partition %d): %v", e.p.Partition, err)
	}
	res.cont = cont
	e.we = h.fn.WatermarkEstimatorState(we)
	if !cont.ShouldResume() {
		e.done = true
		return res
	}
	_, residual, err := rt.TrySplit(0)
	if err != nil {
		h.t.Fatalf("checkpoint split: %v", err)
	}
	if !rt.IsDone() {
		h.t.Fatalf("checkpoint left the primary unfinished: %v", rt)
	}
	e.rest = residual.(offsetrange.Restriction)
	return res
}

// readAll runs bundles of one element until want records came out.
func (h *harness) readAll(e *element, want int) []emitted {
	h.t.Helper()
	var out []emitted
	for i := 0; len(out) < want && i < 200; i++ {
		h.fn.StartBundle(context.Background(), nil)
		out = append(out, h.process(e).out...)
	}
	if len(out) != want {
		h.t.Fatalf("read %d records, want %d", len(out), want)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReadEmitsClaimsAndCommitsOnResume(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.broker.logs[0].append(0, "a", "b", "c", "d", "e")
	e := newElement(0, 0)

	h.fn.StartBundle(context.Background(), nil)
	first := h.process(e)
	n := len(first.out)
	if n == 0 {
		t.Fatal("first bundle emitted nothing although records were waiting")
	}
	// Nothing is committed while the bundle's output may still be lost...
	time.Sleep(20 * time.Millisecond)
	if got := h.broker.groupOffsets("g"); len(got) != 0 {
		t.Fatalf("offsets committed before the bundle's residual resumed: %v", got)
	}
	// ...but once the runner resumes the residual [n, ∞), offset n is.
	h.fn.StartBundle(context.Background(), nil)
	second := h.process(e)
	waitFor(t, "the commit on resume", func() bool { return h.broker.groupOffsets("g")[0] >= int64(n) })
	if got := h.broker.groupOffsets("g")[0]; got != int64(n) {
		t.Fatalf("committed %d on resuming at %d", got, n)
	}

	out := append(first.out, second.out...)
	out = append(out, h.readAll(e, 5-len(out))...)
	for i, em := range out {
		r := em.rec
		if r.Offset != int64(i) || string(r.Value) != string(rune('a'+i)) || string(r.Key) != "k-"+string(rune('a'+i)) {
			t.Errorf("record %d = offset %d key %q value %q", i, r.Offset, r.Key, r.Value)
		}
		if r.Topic != "t" || r.Partition != 0 {
			t.Errorf("record %d from %s/%d", i, r.Topic, r.Partition)
		}
		wantTS := time.UnixMilli(1_700_000_000_000 + int64(i)).UTC()
		if !r.Timestamp.Equal(wantTS) || !em.et.Equal(wantTS) {
			t.Errorf("record %d: timestamp %v, event time %v, want %v", i, r.Timestamp, em.et, wantTS)
		}
	}
	if e.rest.Start != 5 || e.rest.End != math.MaxInt64 {
		t.Errorf("residual restriction %+v, want [5, max)", e.rest)
	}
	h.fn.StartBundle(context.Background(), nil)
	h.process(e)
	waitFor(t, "commit of offset 5", func() bool { return h.broker.groupOffsets("g")[0] == 5 })
	// One reader served every bundle: positioned once, never re-seeked.
	if srcs := h.sourcesOf(0); len(srcs) != 1 || !slices.Equal(srcs[0].seekHistory(), []int64{0}) {
		t.Errorf("sources %d, seeks %v; want one source positioned once at 0", len(srcs), srcs[0].seekHistory())
	}
}

func TestReadCommitsResolvedStart(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.fn.StartBundle(context.Background(), nil)
	h.process(newElement(0, 42)) // e.g. "latest" for a new group
	waitFor(t, "the start offset to be committed", func() bool { return h.broker.groupOffsets("g")[0] == 42 })
}

func TestReadWithoutGroupCommitsNothing(t *testing.T) {
	h := newHarness(t, 1, func(c *ReadConfig) { c.GroupID = "" })
	h.broker.logs[0].append(0, "a", "b")
	e := newElement(0, 0)
	h.readAll(e, 2)
	h.fn.StartBundle(context.Background(), nil)
	h.process(e)
	time.Sleep(20 * time.Millisecond)
	if h.fn.committer != nil || len(h.broker.commits) != 0 {
		t.Fatalf("commits without a group: %v", h.broker.commits)
	}
}

func TestTrackerRefusesDynamicSplits(t *testing.T) {
	h := newHarness(t, 1, func(c *ReadConfig) { c.PollTimeout = 300 * time.Millisecond })
	h.broker.logs[0].append(0, "a", "b")
	e := newElement(0, 0)
	h.readAll(e, 2) // e.rest is now [2, ∞)
	rt, _ := h.fn.CreateTracker(e.rest)
	h.fn.StartBundle(context.Background(), nil)
	done := make(chan sdf.ProcessContinuation)
	go func() {
		cont, _ := h.fn.ProcessElement(context.Background(), h.fn.CreateWatermarkEstimator(e.we), rt, e.p, func(beam.EventTime, Record) {})
		done <- cont
	}()
	time.Sleep(50 * time.Millisecond) // ProcessElement is polling
	for _, f := range []float64{0.5, 0} {
		if _, r, err := rt.TrySplit(f); r != nil || err != nil {
			t.Errorf("split at %v while processing gave residual %v, %v; want none", f, r, err)
		}
	}
	cont := <-done
	if !cont.ShouldResume() {
		t.Fatal("idle poll did not ask to resume")
	}
	if _, r, _ := rt.TrySplit(0.5); r != nil {
		t.Errorf("dynamic split after return gave %v", r)
	}
	p, r, err := rt.TrySplit(0)
	if err != nil || r.(offsetrange.Restriction) != (offsetrange.Restriction{Start: 2, End: math.MaxInt64}) || p.(offsetrange.Restriction) != (offsetrange.Restriction{Start: 2, End: 2}) || !rt.IsDone() {
		t.Errorf("checkpoint: primary %v residual %v err %v done %v", p, r, err, rt.IsDone())
	}
}

func TestReadIdleCheckpointsAndAdvancesWatermark(t *testing.T) {
	h := newHarness(t, 1, func(c *ReadConfig) {
		c.PollTimeout = 60 * time.Millisecond
		c.IdleWatermarkLag = 2 * time.Second
		c.ResumeDelay = 7 * time.Millisecond
	})
	e := newElement(0, 0)
	h.fn.StartBundle(context.Background(), nil)
	before := time.Now()
	res := h.process(e)
	if len(res.out) != 0 {
		t.Fatalf("emitted %d records from an empty partition", len(res.out))
	}
	if res.took < 50*time.Millisecond || res.took > 2*time.Second {
		t.Errorf("idle poll took %v, want about PollTimeout (60ms)", res.took)
	}
	if !res.cont.ShouldResume() || res.cont.ResumeDelay() != 7*time.Millisecond {
		t.Errorf("continuation resume=%v delay=%v, want resume after 7ms", res.cont.ShouldResume(), res.cont.ResumeDelay())
	}
	if e.rest.Start != 0 {
		t.Errorf("residual starts at %d, want 0", e.rest.Start)
	}
	wm := time.UnixMilli(e.we)
	if lo, hi := before.Add(-2*time.Second-time.Millisecond), time.Now().Add(-2*time.Second); wm.Before(lo) || wm.After(hi) {
		t.Errorf("idle watermark %v, want now-2s (%v..%v)", wm, lo, hi)
	}
}

func TestReadWatermarkFollowsRecordsWhileBehind(t *testing.T) {
	h := newHarness(t, 1, func(c *ReadConfig) { c.MaxBundleRecords = 2 })
	h.broker.logs[0].append(0, "a", "b", "c", "d", "e")
	e := newElement(0, 0)
	var out []emitted
	var last result
	for len(out) < 2 {
		h.fn.StartBundle(context.Background(), nil)
		last = h.process(e)
		out = append(out, last.out...)
	}
	if len(out) > 3 {
		t.Fatalf("read %d records in bundles of at most 2", len(out))
	}
	rec := out[len(out)-1].rec
	// Some offsets are still unread: no idle advance, the watermark is the
	// last record's timestamp.
	if got := time.UnixMilli(e.we); !got.Equal(rec.Timestamp) {
		t.Errorf("watermark %v after reading up to offset %d, want its timestamp %v", got, rec.Offset, rec.Timestamp)
	}
	if len(last.out) == 2 && last.cont.ResumeDelay() != 0 {
		t.Errorf("after MaxBundleRecords the DoFn should resume at once, got delay %v", last.cont.ResumeDelay())
	}
}

func TestReadFirstPartitionWaitsOthersDoNot(t *testing.T) {
	h := newHarness(t, 2, func(c *ReadConfig) { c.PollTimeout = 150 * time.Millisecond })
	e0, e1 := newElement(0, 0), newElement(1, 0)
	h.fn.StartBundle(context.Background(), nil)
	r0 := h.process(e0)
	r1 := h.process(e1)
	if r0.took < 140*time.Millisecond {
		t.Errorf("first idle partition returned after %v, want PollTimeout", r0.took)
	}
	if r1.took > 50*time.Millisecond {
		t.Errorf("second idle partition of the bundle waited %v, want no wait", r1.took)
	}
}

func TestReadStopsWaitingWhenAnotherPartitionHasData(t *testing.T) {
	h := newHarness(t, 2, func(c *ReadConfig) { c.PollTimeout = 2 * time.Second })
	e0, e1 := newElement(0, 0), newElement(1, 0)
	// A first bundle opens both readers (p0 waits the full poll).
	h.fn.StartBundle(context.Background(), nil)
	h.process(e0)
	h.process(e1)

	h.fn.StartBundle(context.Background(), nil)
	go func() {
		time.Sleep(50 * time.Millisecond)
		h.broker.logs[1].append(0, "x")
	}()
	r0 := h.process(e0)
	r1 := h.process(e1)
	if r0.took > time.Second {
		t.Errorf("partition 0 kept waiting %v while partition 1 had data", r0.took)
	}
	if len(r0.out) != 0 || len(r1.out) != 1 || string(r1.out[0].rec.Value) != "x" {
		t.Errorf("got %d records from p0 and %v from p1, want none and [x]", len(r0.out), r1.out)
	}
}

func TestReadWakesOnOwnData(t *testing.T) {
	h := newHarness(t, 1, func(c *ReadConfig) { c.PollTimeout = 2 * time.Second })
	e := newElement(0, 0)
	h.fn.StartBundle(context.Background(), nil)
	go func() {
		time.Sleep(30 * time.Millisecond)
		h.broker.logs[0].append(0, "x")
	}()
	res := h.process(e)
	if len(res.out) != 1 || res.took > time.Second {
		t.Fatalf("got %d records after %v, want the record as soon as it arrives", len(res.out), res.took)
	}
	if res.cont.ResumeDelay() != h.fn.Config.ResumeDelay {
		t.Errorf("resume delay %v, want %v", res.cont.ResumeDelay(), h.fn.Config.ResumeDelay)
	}
}

func TestReadSplitStopsAtRestrictionEnd(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.broker.logs[0].append(0, "a", "b", "c", "d", "e")
	waitFor(t, "log", func() bool { return h.broker.logs[0].hwm() == 5 })

	// A split has closed the range at 3: the DoFn stops there and keeps
	// record 3 for whoever reads [3, ∞) next.
	bounded := &element{p: partitionStart{Topic: "t", Partition: 0}, rest: offsetrange.Restriction{Start: 0, End: 3}, we: 0}
	var got []int64
	for i := 0; i < 50 && !bounded.done; i++ {
		h.fn.StartBundle(context.Background(), nil)
		for _, em := range h.process(bounded).out {
			got = append(got, em.rec.Offset)
		}
	}
	if !bounded.done || !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("bounded read got %v (done=%v), want [0 1 2] then stop", got, bounded.done)
	}
	rest := newElement(0, 3)
	out := h.readAll(rest, 2)
	if out[0].rec.Offset != 3 || out[1].rec.Offset != 4 {
		t.Errorf("residual read offsets %d, %d; want 3, 4", out[0].rec.Offset, out[1].rec.Offset)
	}
	if srcs := h.sourcesOf(0); len(srcs) != 1 || !slices.Equal(srcs[0].seekHistory(), []int64{0}) {
		t.Errorf("the stashed record should be reused without a seek; seeks %v", srcs[0].seekHistory())
	}
}

func TestReadSeeksWhenRestrictionMoved(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.broker.logs[0].append(0, "a", "b", "c", "d", "e")
	h.readAll(newElement(0, 0), 5)
	// Another worker read 0..1 meanwhile; this instance gets [2, ∞).
	out := h.readAll(newElement(0, 2), 3)
	if out[0].rec.Offset != 2 {
		t.Errorf("first offset after reposition = %d, want 2", out[0].rec.Offset)
	}
	if seeks := h.sourcesOf(0)[0].seekHistory(); !slices.Equal(seeks, []int64{0, 2}) {
		t.Errorf("seeks %v, want [0 2]", seeks)
	}
}

func TestReadSkipsOffsetGaps(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.broker.logs[0].append(0, "a")
	h.broker.logs[0].append(3, "b") // offsets 0 and 4 (e.g. transaction markers between)
	e := newElement(0, 0)
	out := h.readAll(e, 2)
	if out[1].rec.Offset != 4 || e.rest.Start != 5 {
		t.Errorf("second offset %d, residual start %d; want 4 and 5", out[1].rec.Offset, e.rest.Start)
	}
}

func TestReadSurfacesFetchError(t *testing.T) {
	h := newHarness(t, 1, func(c *ReadConfig) { c.PollTimeout = time.Second })
	e := newElement(0, 0)
	h.fn.StartBundle(context.Background(), nil)
	h.process(e) // opens the reader
	src := h.sourcesOf(0)[0]
	src.mu.Lock()
	src.fetchErr = kafka.TopicAuthorizationFailed
	src.mu.Unlock()
	h.broker.logs[0].append(0, "wake") // wakes the fake's fetch loop

	h.fn.StartBundle(context.Background(), nil)
	rt, _ := h.fn.CreateTracker(e.rest)
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = h.fn.ProcessElement(context.Background(), h.fn.CreateWatermarkEstimator(e.we), rt, e.p, func(beam.EventTime, Record) {})
	}
	if !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Fatalf("ProcessElement error = %v, want it to wrap TopicAuthorizationFailed", err)
	}
	// The failed reader is dropped: the retry opens a fresh one.
	h.fn.StartBundle(context.Background(), nil)
	h.process(newElement(0, 0))
	if n := len(h.sourcesOf(0)); n != 2 {
		t.Errorf("%d sources opened, want a second one after the failure", n)
	}
}

func TestReadRidesOutTransientFetchErrors(t *testing.T) {
	h := newHarness(t, 1, nil)
	e := newElement(0, 0)
	h.fn.StartBundle(context.Background(), nil)
	h.process(e) // opens the reader
	src := h.sourcesOf(0)[0]
	src.mu.Lock()
	src.fetchErr = fmt.Errorf("dial: %w", io.ErrUnexpectedEOF) // e.g. a broker restarting
	src.mu.Unlock()
	h.broker.logs[0].append(0, "after")
	out := h.readAll(e, 1)
	if string(out[0].rec.Value) != "after" || len(h.sourcesOf(0)) != 1 {
		t.Errorf("got %q with %d sources; want the record from the same reader", out[0].rec.Value, len(h.sourcesOf(0)))
	}
}

func TestReadIdleReaderClosesItself(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.fn.idleAfter = 50 * time.Millisecond
	e := newElement(0, 0)
	h.fn.StartBundle(context.Background(), nil)
	h.process(e)
	src := h.sourcesOf(0)[0]
	waitFor(t, "the idle reader to close", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.closed
	})
	h.broker.logs[0].append(0, "late")
	out := h.readAll(e, 1)
	if string(out[0].rec.Value) != "late" || len(h.sourcesOf(0)) != 2 {
		t.Errorf("after the idle close: got %q with %d sources, want a new reader", out[0].rec.Value, len(h.sourcesOf(0)))
	}
}

func TestCommitterRetriesAndNeverGoesBack(t *testing.T) {
	b := newFakeBroker(2)
	b.commitErrs = 1
	c := newCommitter(b, "g", "t")
	c.add(map[int]int64{0: 10, 1: 3})
	waitFor(t, "the retried commit", func() bool {
		got := b.groupOffsets("g")
		return got[0] == 10 && got[1] == 3
	})
	c.add(map[int]int64{0: 7}) // a stale offset (e.g. from another worker) arriving late
	c.add(map[int]int64{1: 5})
	waitFor(t, "the second commit", func() bool { return b.groupOffsets("g")[1] == 5 })
	if got := b.groupOffsets("g")[0]; got != 10 {
		t.Errorf("partition 0 committed %d after a stale 7; want it to stay 10", got)
	}
	if err := c.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.lastCommitted(); got[0] != 10 || got[1] != 5 {
		t.Errorf("lastCommitted = %v", got)
	}
}

func TestResolveStarts(t *testing.T) {
	b := newFakeBroker(3)
	b.logs[0].append(0, "a", "b", "c")
	b.logs[1].append(0, "a", "b", "c", "d", "e", "f")
	b.groups["g"] = map[int]int64{1: 4}
	cfg := func(edit func(*ReadConfig)) ReadConfig {
		c := ReadConfig{Brokers: []string{"x:1"}, Topic: "t", GroupID: "g"}
		edit(&c)
		return c.withDefaults()
	}
	for _, tc := range []struct {
		name string
		cfg  ReadConfig
		want []int64
	}{
		{"earliest", cfg(func(c *ReadConfig) { c.StartFrom = StartEarliest }), []int64{0, 4, 0}},
		{"latest", cfg(func(c *ReadConfig) {}), []int64{3, 4, 0}},
		{"no group", cfg(func(c *ReadConfig) { c.GroupID = "" }), []int64{3, 6, 0}},
		{"other group", cfg(func(c *ReadConfig) { c.GroupID = "h"; c.StartFrom = StartEarliest }), []int64{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveStarts(context.Background(), b, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var starts []int64
			for i, ps := range got {
				if ps.Partition != i || ps.Topic != "t" {
					t.Errorf("element %d = %+v", i, ps)
				}
				starts = append(starts, ps.Start)
			}
			if !slices.Equal(starts, tc.want) {
				t.Errorf("starts %v, want %v", starts, tc.want)
			}
		})
	}
	got, err := resolveStarts(context.Background(), b, cfg(func(c *ReadConfig) { c.Partitions = []int{1} }))
	if err != nil || len(got) != 1 || got[0].Partition != 1 || got[0].Start != 4 {
		t.Errorf("Partitions [1]: %v, %v", got, err)
	}
	if _, err := resolveStarts(context.Background(), b, cfg(func(c *ReadConfig) { c.Partitions = []int{7} })); err == nil {
		t.Error("a missing partition should be an error")
	}
}

func TestTrackerCheckpoint(t *testing.T) {
	fn := &readFn{}
	rt, err := fn.CreateTracker(offsetrange.Restriction{Start: 5, End: math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	if rt.IsBounded() {
		t.Fatal("an open restriction must be unbounded")
	}
	// Nothing claimed: the checkpoint hands the whole range back.
	allowCheckpoint(rt)
	_, r, err := rt.TrySplit(0)
	if err != nil || r.(offsetrange.Restriction) != (offsetrange.Restriction{Start: 5, End: math.MaxInt64}) || !rt.IsDone() {
		t.Fatalf("checkpoint without claims: residual %v, err %v, done %v", r, err, rt.IsDone())
	}

	rt, _ = fn.CreateTracker(offsetrange.Restriction{Start: 5, End: math.MaxInt64})
	for _, off := range []int64{5, 6, 9} { // gaps are fine
		if !rt.TryClaim(off) {
			t.Fatalf("claim %d failed", off)
		}
	}
	allowCheckpoint(rt)
	p, r, _ := rt.TrySplit(0)
	if p.(offsetrange.Restriction) != (offsetrange.Restriction{Start: 5, End: 10}) || r.(offsetrange.Restriction) != (offsetrange.Restriction{Start: 10, End: math.MaxInt64}) || !rt.IsDone() {
		t.Fatalf("checkpoint after claiming 9: primary %v residual %v", p, r)
	}

	// Progress comes from the bound end estimator (the high-water mark).
	rt, _ = fn.CreateTracker(offsetrange.Restriction{Start: 10, End: math.MaxInt64})
	est := fn.pendingEst
	if got := est.Estimate(); got != 0 {
		t.Fatalf("unbound Estimate = %d, want 0", got)
	}
	pr := &partitionReader{}
	pr.hwm.Store(110)
	est.pr.Store(pr)
	if got := est.Estimate(); got != 110 {
		t.Fatalf("Estimate = %d, want 110", got)
	}
	rt.TryClaim(int64(10))
	if done, rem := rt.GetProgress(); done != 1 || rem != 100 {
		t.Errorf("progress done=%v remaining=%v, want 1 and 100", done, rem)
	}
	// A closed range (a drained restriction) gets a plain tracker.
	rt, _ = fn.CreateTracker(offsetrange.Restriction{Start: 10, End: 60})
	if !rt.IsBounded() {
		t.Error("a closed restriction must be bounded")
	}
	if got := fn.RestrictionSize(partitionStart{}, offsetrange.Restriction{Start: 10, End: 60}); got != 50 {
		t.Errorf("RestrictionSize = %v, want 50", got)
	}
}

func TestWatermarkEstimator(t *testing.T) {
	fn := &readFn{}
	we := fn.CreateWatermarkEstimator(1000)
	we.advance(time.UnixMilli(5000))
	we.advance(time.UnixMilli(3000)) // never backwards
	if got := we.CurrentWatermark(); !got.Equal(time.UnixMilli(5000)) {
		t.Errorf("watermark %v, want 5s", got)
	}
	if s := fn.WatermarkEstimatorState(we); s != 5000 {
		t.Errorf("state %d", s)
	}
	if got := fn.InitialWatermarkEstimatorState(mtime.FromMilliseconds(42), offsetrange.Restriction{}, partitionStart{}); got != 42 {
		t.Errorf("initial state %d, want 42", got)
	}
}

func TestTruncateRestriction(t *testing.T) {
	fn := &readFn{}
	rt, _ := fn.CreateTracker(offsetrange.Restriction{Start: 7, End: math.MaxInt64})
	if got := fn.TruncateRestriction(rt, partitionStart{}); got != (offsetrange.Restriction{Start: 7, End: 7}) {
		t.Errorf("truncated %v", got)
	}
}

func ExampleRead() {
	p, s := beam.NewPipelineWithRoot()
	records := Read(s, ReadConfig{
		Brokers:   []string{"127.0.0.1:9092"},
		Topic:     "stratus.canvas",
		GroupID:   "stratus-stream",
		StartFrom: StartEarliest,
	})
	Write(s, WriteConfig{Brokers: []string{"127.0.0.1:9092"}, Topic: "stratus.copy"}, records)
	_ = p
	fmt.Println(records.Type())
	// Output: kafkaio.Record
}
