//go:build integration

// Integration tests: kafkaio pipelines on prism (in process, LOOPBACK worker)
// against the real Kafka broker started by deploy/local:
//
//	deploy/local/kafka.sh start
//	set -a; . ~/.cache/stratus-local/env; set +a
//	STRATUS_INTEGRATION=1 go test -tags integration -race ./transforms/kafkaio
package kafkaio_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/transforms/kafkaio"
)

func init() {
	register.Function1x2(recordToOne)
	register.Function3x2(formatWindowCount)
	register.Function1x2(recordToKV)
	register.DoFn2x0[kafkaio.Record, func(kafkaio.Record)](&routeFn{})
	register.Emitter1[kafkaio.Record]()
}

// recordToKV keeps key and value only, for the KV<[]byte, []byte> Write.
func recordToKV(r kafkaio.Record) ([]byte, []byte) { return r.Key, r.Value }

// recordToOne keys every record the same, to count them.
func recordToOne(kafkaio.Record) (string, int) { return "all", 1 }

// formatWindowCount writes a window's count as key=window end (Unix ms),
// value=count.
func formatWindowCount(w beam.Window, _ string, n int) ([]byte, []byte) {
	return []byte(strconv.FormatInt(w.MaxTimestamp().Milliseconds(), 10)), []byte(strconv.Itoa(n))
}

// routeFn sends each record to Topic through the per-record-topic Write,
// the way a pipeline routes dead letters.
type routeFn struct {
	Topic string
}

func (fn *routeFn) ProcessElement(r kafkaio.Record, emit func(kafkaio.Record)) {
	r.Topic = fn.Topic
	emit(r)
}

// ---------------------------------------------------------------- prism

var (
	jobServerOnce sync.Once
	jobServer     jobpb.JobServiceClient
	jobEndpoint   string
	jobServerErr  error
)

// startJobServer starts one in-process prism job server for the test binary.
func startJobServer(t testing.TB) (jobpb.JobServiceClient, string) {
	t.Helper()
	jobServerOnce.Do(func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			jobServerErr = err
			return
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		jobServer, jobServerErr = prism.CreateJobServer(context.Background(), prism.Options{Port: port})
		jobEndpoint = fmt.Sprintf("localhost:%d", port)
	})
	if jobServerErr != nil {
		t.Fatalf("starting prism: %v", jobServerErr)
	}
	return jobServer, jobEndpoint
}

// job is a streaming pipeline running on prism.
type job struct {
	t      testing.TB
	client jobpb.JobServiceClient
	id     string
	done   chan error
}

// runJob submits p to prism and returns once the job runs. The pipeline's
// worker lives in this process (LOOPBACK), so the test must outlive it.
func runJob(t testing.TB, name string, p *beam.Pipeline) *job {
	t.Helper()
	client, endpoint := startJobServer(t)
	*jobopts.Endpoint = endpoint
	*jobopts.EnvironmentType = "loopback"
	*jobopts.JobName = name
	j := &job{t: t, client: client, done: make(chan error, 1)}
	go func() {
		_, err := universal.Execute(context.Background(), p)
		j.done <- err
	}()
	deadline := time.Now().Add(60 * time.Second)
	for j.id == "" {
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not start", name)
		}
		select {
		case err := <-j.done:
			t.Fatalf("job %s ended before it ran: %v", name, err)
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := client.GetJobs(context.Background(), &jobpb.GetJobsRequest{})
		if err != nil {
			t.Fatalf("GetJobs: %v", err)
		}
		for _, info := range resp.GetJobInfo() {
			if info.GetJobName() == name && info.GetState() == jobpb.JobState_RUNNING {
				j.id = info.GetJobId()
			}
		}
	}
	t.Cleanup(func() { j.cancel() })
	return j
}

// cancel cancels the job through the job service (cancelling Execute's
// context would end it as FAILED) and waits for it to end.
func (j *job) cancel() {
	if j.done == nil {
		return
	}
	if _, err := j.client.Cancel(context.Background(), &jobpb.CancelJobRequest{JobId: j.id}); err != nil {
		j.t.Errorf("cancelling %s: %v", j.id, err)
	}
	select {
	case err := <-j.done:
		if err != nil {
			j.t.Errorf("job %s ended with %v", j.id, err)
		}
	case <-time.After(30 * time.Second):
		j.t.Errorf("job %s did not end after cancel", j.id)
	}
	st, err := j.client.GetState(context.Background(), &jobpb.GetJobStateRequest{JobId: j.id})
	if err != nil || st.GetState() != jobpb.JobState_CANCELLED {
		j.t.Errorf("job %s state after cancel: %v %v", j.id, st.GetState(), err)
	}
	j.done = nil
}

// failIfEnded fails the test if the job has stopped by itself.
func (j *job) failIfEnded() {
	select {
	case err := <-j.done:
		j.done = nil
		j.t.Fatalf("job %s ended unexpectedly: %v", j.id, err)
	default:
	}
}

// ---------------------------------------------------------------- kafka

func brokers(t testing.TB) []string {
	return strings.Split(testenv.Kafka(t), ",")
}

func uniqueName(t testing.TB, what string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("kafkaio-%s-%s-%d", strings.ToLower(name), what, time.Now().UnixNano())
}

func kafkaClient(t testing.TB) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers(t)...), Timeout: 10 * time.Second}
}

// createTopic creates a fresh topic and waits until every partition has a
// leader that answers ListOffsets.
func createTopic(t testing.TB, name string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := kafkaClient(t)
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: name, NumPartitions: partitions, ReplicationFactor: 1,
	}}})
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	if err := res.Errors[name]; err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	reqs := make([]kafka.OffsetRequest, partitions)
	for p := range partitions {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	for {
		lo, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{name: reqs}})
		ready := err == nil && len(lo.Topics[name]) == partitions
		if ready {
			for _, po := range lo.Topics[name] {
				ready = ready && po.Error == nil
			}
		}
		if ready {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s not ready: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newProducer(t testing.TB, topic string) *kafka.Writer {
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers(t)...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// sent is a produced message as the test remembers it.
type sent struct {
	key, value string
	headers    []kafka.Header
	ts         time.Time
}

// makeMessages builds n distinct messages numbered from first.
func makeMessages(prefix string, first, n int) ([]kafka.Message, map[string]sent) {
	msgs := make([]kafka.Message, n)
	want := map[string]sent{}
	base := time.Now().Truncate(time.Millisecond).Add(-time.Hour)
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, first+i)
		m := kafka.Message{
			Key:     []byte("key-" + id),
			Value:   []byte(`{"v":1,"id":"` + id + `"}`),
			Time:    base.Add(time.Duration(first+i) * time.Millisecond),
			Headers: []kafka.Header{{Key: "id", Value: []byte(id)}, {Key: "n", Value: []byte(strconv.Itoa(first + i))}},
		}
		if i%7 == 0 {
			m.Headers = append(m.Headers, kafka.Header{Key: "empty", Value: []byte{}})
		}
		msgs[i] = m
		want[string(m.Key)] = sent{key: string(m.Key), value: string(m.Value), headers: m.Headers, ts: m.Time}
	}
	return msgs, want
}

func produce(t testing.TB, w *kafka.Writer, msgs ...kafka.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing %d messages: %v", len(msgs), err)
	}
}

// received is an output message and when the test's consumer got it.
type received struct {
	m  kafka.Message
	at time.Time
}

// consumer reads every partition of a topic from the start.
type consumer struct {
	ch     chan received
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func consume(t testing.TB, topic string, partitions int) *consumer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{ch: make(chan received, 10000), cancel: cancel}
	for p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   brokers(t),
			Topic:     topic,
			Partition: p,
			MinBytes:  1,
			MaxBytes:  10 << 20,
			MaxWait:   500 * time.Millisecond,
		})
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				select {
				case c.ch <- received{m: m, at: time.Now()}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	t.Cleanup(c.stop)
	return c
}

func (c *consumer) stop() {
	c.cancel()
	c.wg.Wait()
}

// collect reads until pred says stop or the timeout passes.
func (c *consumer) collect(t testing.TB, j *job, timeout time.Duration, done func([]received) bool) []received {
	t.Helper()
	var got []received
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !done(got) {
		select {
		case r := <-c.ch:
			got = append(got, r)
		case <-tick.C:
			if j != nil {
				j.failIfEnded()
			}
		case <-deadline:
			return got
		}
	}
	return got
}

func count(n int) func([]received) bool {
	return func(got []received) bool { return len(got) >= n }
}

// checkExact verifies that got holds each wanted message exactly once with
// its key, value, headers and (when checkTS) timestamp.
func checkExact(t *testing.T, what string, got []received, want map[string]sent, checkHeaders, checkTS bool) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range got {
		k := string(r.m.Key)
		seen[k]++
		w, ok := want[k]
		if !ok {
			t.Errorf("%s: unexpected key %q", what, k)
			continue
		}
		if string(r.m.Value) != w.value {
			t.Errorf("%s: %s value %q, want %q", what, k, r.m.Value, w.value)
		}
		if checkHeaders && !headersEqual(r.m.Headers, w.headers) {
			t.Errorf("%s: %s headers %v, want %v", what, k, r.m.Headers, w.headers)
		}
		if checkTS && !r.m.Time.Equal(w.ts) {
			t.Errorf("%s: %s timestamp %v, want %v", what, k, r.m.Time, w.ts)
		}
	}
	var missing, dups []string
	for k := range want {
		switch seen[k] {
		case 0:
			missing = append(missing, k)
		case 1:
		default:
			dups = append(dups, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s: %d of %d messages missing, e.g. %v", what, len(missing), len(want), missing[:min(5, len(missing))])
	}
	if len(dups) > 0 {
		t.Errorf("%s: %d messages duplicated in a clean run, e.g. %v", what, len(dups), dups[:min(5, len(dups))])
	}
}

func headersEqual(a, b []kafka.Header) bool {
	return slices.EqualFunc(a, b, func(x, y kafka.Header) bool {
		return x.Key == y.Key && string(x.Value) == string(y.Value)
	})
}

// committed returns the group's committed offsets on topic.
func committed(t testing.TB, group, topic string, partitions int) map[int]int64 {
	t.Helper()
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	res, err := kafkaClient(t).OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{topic: parts},
	})
	if err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

func endOffsets(t testing.TB, topic string, partitions int) map[int]int64 {
	t.Helper()
	reqs := make([]kafka.OffsetRequest, partitions)
	for p := range partitions {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	res, err := kafkaClient(t).ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("ListOffsets: %v", err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = p.LastOffset
	}
	return out
}

// ---------------------------------------------------------------- tests

// (a) 200 records through Read and the three kinds of Write, exactly as sent.
func TestReadWriteRoundTrip(t *testing.T) {
	bs := brokers(t)
	in, outRec, outKV, outRouted := uniqueName(t, "in"), uniqueName(t, "rec"), uniqueName(t, "kv"), uniqueName(t, "routed")
	group := uniqueName(t, "group")
	createTopic(t, in, 3)
	for _, topic := range []string{outRec, outKV, outRouted} {
		createTopic(t, topic, 2)
	}
	msgs, want := makeMessages("rt", 0, 200)
	produce(t, newProducer(t, in), msgs...)

	p, s := beam.NewPipelineWithRoot()
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: bs, Topic: in, GroupID: group, StartFrom: kafkaio.StartEarliest})
	kafkaio.Write(s.Scope("records"), kafkaio.WriteConfig{Brokers: bs, Topic: outRec}, recs)
	kafkaio.Write(s.Scope("kv"), kafkaio.WriteConfig{Brokers: bs, Topic: outKV}, beam.ParDo(s, recordToKV, recs))
	kafkaio.Write(s.Scope("routed"), kafkaio.WriteConfig{Brokers: bs}, beam.ParDo(s, &routeFn{Topic: outRouted}, recs))

	cRec, cKV, cRouted := consume(t, outRec, 2), consume(t, outKV, 2), consume(t, outRouted, 2)
	start := time.Now()
	j := runJob(t, uniqueName(t, "job"), p)
	gotRec := cRec.collect(t, j, 90*time.Second, count(200))
	t.Logf("200 records through the pipeline %v after submission", time.Since(start).Round(time.Millisecond))
	gotKV := cKV.collect(t, j, 30*time.Second, count(200))
	gotRouted := cRouted.collect(t, j, 30*time.Second, count(200))
	// Anything extra (duplicates) would show up within a moment.
	gotRec = append(gotRec, cRec.collect(t, j, 500*time.Millisecond, func([]received) bool { return false })...)

	checkExact(t, "Record write", gotRec, want, true, true)
	checkExact(t, "KV write", gotKV, want, false, false)
	checkExact(t, "per-record-topic write", gotRouted, want, true, true)

	// The read commits its position once a bundle's output is durable (when
	// its residual resumes): every partition's committed offset reaches the
	// end.
	end := endOffsets(t, in, 3)
	deadline := time.Now().Add(10 * time.Second)
	for !maps.Equal(committed(t, group, in, 3), end) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := committed(t, group, in, 3); !maps.Equal(got, end) {
		t.Errorf("committed offsets %v, want the end offsets %v", got, end)
	}
	j.cancel()
}

// (b) A cancelled job's successor with the same group resumes at the
// committed offsets: every record is seen at least once, nothing below the
// committed offsets is read again.
func TestRestartResumesFromCommittedOffsets(t *testing.T) {
	bs := brokers(t)
	const parts = 2
	in, out1, out2 := uniqueName(t, "in"), uniqueName(t, "out1"), uniqueName(t, "out2")
	group := uniqueName(t, "group")
	createTopic(t, in, parts)
	createTopic(t, out1, 1)
	createTopic(t, out2, 1)
	w := newProducer(t, in)
	first, want1 := makeMessages("a", 0, 150)
	second, want2 := makeMessages("b", 150, 100)

	pipeline := func(out string) *beam.Pipeline {
		p, s := beam.NewPipelineWithRoot()
		recs := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: bs, Topic: in, GroupID: group, StartFrom: kafkaio.StartEarliest})
		kafkaio.Write(s, kafkaio.WriteConfig{Brokers: bs, Topic: out}, recs)
		return p
	}

	// Run 1 sees the first 150 records, produced while it runs; it is
	// cancelled once it has delivered 60 or more.
	c1 := consume(t, out1, 1)
	j1 := runJob(t, uniqueName(t, "job1"), pipeline(out1))
	go func() {
		for i := 0; i < len(first); i += 10 {
			if err := w.WriteMessages(context.Background(), first[i:i+10]...); err != nil {
				t.Errorf("producing: %v", err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	got1 := c1.collect(t, j1, 60*time.Second, count(60))
	if len(got1) < 60 {
		t.Fatalf("run 1 delivered %d records", len(got1))
	}
	j1.cancel()
	got1 = append(got1, c1.collect(t, nil, time.Second, func([]received) bool { return false })...)
	// Let an in-flight commit land, then take the group's position.
	time.Sleep(500 * time.Millisecond)
	at := committed(t, group, in, parts)
	t.Logf("run 1 delivered %d records; committed offsets after cancel: %v (ends %v)", len(got1), at, endOffsets(t, in, parts))
	for p, off := range at {
		if off <= 0 {
			t.Errorf("partition %d: nothing committed by run 1 (offset %d)", p, off)
		}
	}

	produce(t, w, second...)
	// Wait until all of the first batch is in the topic (the producer
	// goroutine may still be running).
	deadline := time.Now().Add(30 * time.Second)
	for {
		end := endOffsets(t, in, parts)
		if end[0]+end[1] == 250 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	c2 := consume(t, out2, 1)
	j2 := runJob(t, uniqueName(t, "job2"), pipeline(out2))
	end := endOffsets(t, in, parts)
	wantRun2 := 0
	for p := range parts {
		wantRun2 += int(end[p] - at[p])
	}
	got2 := c2.collect(t, j2, 90*time.Second, count(wantRun2))
	got2 = append(got2, c2.collect(t, j2, time.Second, func([]received) bool { return false })...)
	j2.cancel()

	// Run 2 read exactly [committed, end) of each partition: look the
	// output keys up in the input to learn their offsets.
	offsets := inputOffsets(t, in, parts)
	for _, r := range got2 {
		o, ok := offsets[string(r.m.Key)]
		if !ok {
			t.Errorf("run 2 emitted unknown key %q", r.m.Key)
			continue
		}
		if o.offset < at[o.partition] {
			t.Errorf("run 2 re-read %s (partition %d offset %d) below the committed offset %d", r.m.Key, o.partition, o.offset, at[o.partition])
		}
	}
	if len(got2) != wantRun2 {
		t.Errorf("run 2 delivered %d records, want %d (end %v - committed %v)", len(got2), wantRun2, end, at)
	}
	all := map[string]sent{}
	maps.Copy(all, want1)
	maps.Copy(all, want2)
	seen := map[string]bool{}
	for _, r := range append(got1, got2...) {
		seen[string(r.m.Key)] = true
	}
	for k := range all {
		if !seen[k] {
			t.Errorf("record %s never delivered by either run", k)
		}
	}
	t.Logf("run 2 delivered %d records (all %d records seen at least once: %v)", len(got2), len(all), len(seen) == len(all))
}

// The idle watermark advance closes event-time windows: records in one
// partition of two, then silence; the fixed window's count must come out.
func TestWindowsCloseWhileIdle(t *testing.T) {
	bs := brokers(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopic(t, in, 2)
	createTopic(t, out, 1)
	p, s := beam.NewPipelineWithRoot()
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: bs, Topic: in, StartFrom: kafkaio.StartEarliest, IdleWatermarkLag: 200 * time.Millisecond})
	windowed := beam.WindowInto(s, window.NewFixedWindows(time.Second), recs)
	counts := stats.SumPerKey(s, beam.ParDo(s, recordToOne, windowed))
	kafkaio.Write(s, kafkaio.WriteConfig{Brokers: bs, Topic: out}, beam.ParDo(s, formatWindowCount, counts))
	c := consume(t, out, 1)
	j := runJob(t, uniqueName(t, "job"), p)

	w := &kafka.Writer{Addr: kafka.TCP(bs...), Topic: in, Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return 0 }),
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	now := time.Now()
	msgs, _ := makeMessages("win", 0, 5)
	for i := range msgs {
		msgs[i].Time = now // one window
	}
	produce(t, w, msgs...)
	start := time.Now()
	got := c.collect(t, j, 30*time.Second, count(1))
	if len(got) != 1 {
		t.Fatalf("no window output 30 s after the last record: the watermark did not advance while idle")
	}
	if string(got[0].m.Value) != "5" {
		t.Errorf("window count %s, want 5", got[0].m.Value)
	}
	t.Logf("window [%v, +1s) closed %v after its records were produced", now.Truncate(time.Second).Format("15:04:05"), time.Since(start).Round(time.Millisecond))
}

type position struct {
	partition int
	offset    int64
}

// inputOffsets maps each key of topic to where it is.
func inputOffsets(t testing.TB, topic string, partitions int) map[string]position {
	t.Helper()
	end := endOffsets(t, topic, partitions)
	out := map[string]position{}
	for p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers(t), Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for off := int64(0); off < end[p]; {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("reading back %s/%d: %v", topic, p, err)
			}
			out[string(m.Key)] = position{partition: p, offset: m.Offset}
			off = m.Offset + 1
		}
		cancel()
		r.Close()
	}
	return out
}

// (c) produce → output-topic latency at 100 records/s.
func TestLatency(t *testing.T) {
	for _, parts := range []int{1, 4} {
		t.Run(fmt.Sprintf("%dpartitions", parts), func(t *testing.T) {
			lat := measureLatency(t, parts, 100, 200)
			t.Logf("produce → output topic over %d records at 100/s, %d partitions: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
				len(lat), parts, pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100))
		})
	}
}

// BenchmarkReadWriteLatency reports produce → Read → Write → consumer
// latency at 100 records/s on a 4-partition topic (b.N records, at least 50).
func BenchmarkReadWriteLatency(b *testing.B) {
	lat := measureLatency(b, 4, 100, max(b.N, 50))
	b.ReportMetric(pct(lat, 50), "p50-ms")
	b.ReportMetric(pct(lat, 99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkReadWriteThroughput reports how fast Read → Write catches up
// with a backlog of 1 KiB records on 4 partitions (b.N records, at least
// 20,000), from job submission to the last record in the output topic.
func BenchmarkReadWriteThroughput(b *testing.B) {
	n := max(b.N, 20000)
	bs := brokers(b)
	in, out := uniqueName(b, "in"), uniqueName(b, "out")
	createTopic(b, in, 4)
	createTopic(b, out, 4)
	w := newProducer(b, in)
	w.BatchSize = 1000
	val := strings.Repeat("x", 1024)
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(strconv.Itoa(i)), Value: []byte(val)}
	}
	produce(b, w, msgs...)
	p, s := beam.NewPipelineWithRoot()
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: bs, Topic: in, StartFrom: kafkaio.StartEarliest, GroupID: uniqueName(b, "group")})
	kafkaio.Write(s, kafkaio.WriteConfig{Brokers: bs, Topic: out}, recs)
	c := consume(b, out, 4)
	b.ResetTimer()
	start := time.Now()
	j := runJob(b, uniqueName(b, "job"), p)
	got := c.collect(b, j, 5*time.Minute, count(n))
	el := time.Since(start)
	b.StopTimer()
	if len(got) < n {
		b.Fatalf("%d of %d records came through", len(got), n)
	}
	b.ReportMetric(float64(n)/el.Seconds(), "records/s")
	b.ReportMetric(0, "ns/op")
}

// measureLatency runs Read → Write and produces n records, one at a time at
// rate per second, timing each from just before its produce call until the
// test's consumer fetches it from the output topic.
func measureLatency(t testing.TB, parts, rate, n int) []float64 {
	bs := brokers(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopic(t, in, parts)
	createTopic(t, out, parts)
	p, s := beam.NewPipelineWithRoot()
	rc := kafkaio.ReadConfig{Brokers: bs, Topic: in, GroupID: uniqueName(t, "group"), StartFrom: kafkaio.StartEarliest}
	recs := kafkaio.Read(s, rc)
	kafkaio.Write(s, kafkaio.WriteConfig{Brokers: bs, Topic: out}, recs)
	c := consume(t, out, parts)
	j := runJob(t, uniqueName(t, "job"), p)
	w := newProducer(t, in)

	// Warm up: the first records pay for connection set-up.
	warm, _ := makeMessages("warm", 0, 2*parts)
	for _, m := range warm {
		produce(t, w, m)
	}
	if got := c.collect(t, j, 60*time.Second, count(len(warm))); len(got) < len(warm) {
		t.Fatalf("warm-up: %d of %d records came through", len(got), len(warm))
	}
	time.Sleep(200 * time.Millisecond)

	msgs, _ := makeMessages("lat", 0, n)
	cpu0, wall0 := cpuTime(), time.Now()
	defer func() {
		t.Logf("test process CPU during the run: %.0f%% of one core", 100*float64(cpuTime()-cpu0)/float64(time.Since(wall0)))
	}()
	sentAt := make(map[string]time.Time, n)
	var mu sync.Mutex
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for _, m := range msgs {
			<-tick.C
			m.Time = time.Time{} // producer stamps now
			mu.Lock()
			sentAt[string(m.Key)] = time.Now()
			mu.Unlock()
			if err := w.WriteMessages(context.Background(), m); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
		}
	}()
	got := c.collect(t, j, time.Duration(n)*time.Second/time.Duration(rate)+60*time.Second, count(n))
	if len(got) < n {
		t.Fatalf("%d of %d records came through", len(got), n)
	}
	j.cancel()
	mu.Lock()
	defer mu.Unlock()
	lat := make([]float64, 0, n)
	for _, r := range got {
		if at, ok := sentAt[string(r.m.Key)]; ok {
			lat = append(lat, float64(r.at.Sub(at).Microseconds())/1000)
		}
	}
	if len(lat) != n {
		t.Fatalf("matched %d of %d records", len(lat), n)
	}
	sort.Float64s(lat)
	return lat
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
