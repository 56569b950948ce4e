//go:build integration

package stream

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store/storetest"
)

// TestStreamFlinkIntegration runs the streaming pipeline on Beam's Flink job
// server in streaming mode (LOOPBACK Go workers), against the real Kafka
// broker and the CouchDB-protocol server: events are answered on the reply
// topic and stored, first by the shipped model (the registry has no active
// model), then, after a model is activated in the registry, by that model,
// without a restart.
func TestStreamFlinkIntegration(t *testing.T) {
	endpoint := testenv.Flink(t)
	r := newRig(t, "flink")
	r.cfg.ModelPoll = 300 * time.Millisecond
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	def, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	next, err := r.st.PutModel(ctx, storetest.ModelFiles(t, 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	replies := r.collect(ctx, r.cfg.PredictionsTopic)

	p, s := beam.NewPipelineWithRoot()
	if err := Build(s, r.cfg); err != nil {
		t.Fatal(err)
	}
	job, err := runners.Start(ctx, p, runners.Options{
		Runner: runners.Flink, Endpoint: endpoint, JobName: "stream-flink-it",
		Flink: runners.FlinkOptions{Streaming: true, MaxBundleTime: 100 * time.Millisecond, CheckpointingInterval: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if err := job.Stop(sctx); err != nil {
			t.Errorf("stop the Flink job: %v", err)
		}
	}()

	// send produces events for digits [from, to) and waits for their answers.
	send := func(from, to int, wantModel string) {
		t.Helper()
		want := map[string]int{}
		for i := from; i < to; i++ {
			id, ev := digitEvent(t, set, i, "frontend-flink")
			want[id] = int(set.Labels[i])
			r.produce(ctx, "session"+strconv.Itoa(i%4), ev)
		}
		start := time.Now()
		waitFor(t, 4*time.Minute, fmt.Sprintf("answers to events %d-%d", from, to-1), func() (bool, string) {
			select {
			case <-job.Done():
				t.Fatalf("the Flink job ended: %v", job.Wait(ctx))
			default:
			}
			got, _ := answers(t, replies)
			n := 0
			for id := range want {
				if _, ok := got[id]; ok {
					n++
				}
			}
			return n == len(want), fmt.Sprintf("%d of %d answered", n, len(want))
		})
		got, _ := answers(t, replies)
		right := 0
		for id, label := range want {
			p := got[id]
			if p.Model != wantModel {
				t.Errorf("event %s answered by model %s, want %s", id, p.Model, wantModel)
			}
			if p.Digits == strconv.Itoa(label) {
				right++
			}
		}
		t.Logf("events %d-%d: all answered by %s within %v; %d/%d right", from, to-1, wantModel, time.Since(start).Round(time.Millisecond), right, len(want))
		if float64(right) < 0.97*float64(len(want)) {
			t.Errorf("accuracy %d/%d", right, len(want))
		}
	}
	send(0, 100, def.ID)
	if err := r.st.ActivateModel(ctx, next.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * r.cfg.ModelPoll) // past the poll: the next batch checks first
	send(100, 200, next.ID)

	_, n := answers(t, replies)
	if n != 200 {
		t.Errorf("%d replies for 200 events", n)
	}
	waitFor(t, time.Minute, "200 documents", func() (bool, string) {
		c, err := r.st.Count(ctx)
		return err == nil && c == 200, fmt.Sprintf("%d documents (%v)", c, err)
	})
	id, _ := digitEvent(t, set, 150, "")
	smp, err := r.st.GetSample(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := smp.Predictions[next.ID]; !ok || len(smp.Input28) == 0 {
		t.Errorf("sample %s: predictions %v, want one of %s", id, smp.Predictions, next.ID)
	}
}
