package rescore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/transforms/storeio"
)

// ResolveModel returns the id of the model ref names: a model file (its
// header's id), the shipped model's id, or a model registered in st.
func ResolveModel(ctx context.Context, st store.Registry, ref string) (string, error) {
	if ref == "" {
		return "", errors.New("rescore: no model: name one by id or file")
	}
	if _, err := os.Stat(ref); err == nil {
		m, err := model.Load(ref)
		if err != nil {
			return "", err
		}
		return m.ID, nil
	}
	if def, err := model.Default(); err == nil && def.ID == ref {
		return ref, nil
	}
	if _, err := st.GetModel(ctx, ref); err != nil {
		return "", fmt.Errorf("rescore: model %q: no such file, and not in the registry: %w", ref, err)
	}
	return ref, nil
}

// RunOptions are what Run needs besides the pipeline's Config.
type RunOptions struct {
	// Runner says where the pipeline runs.
	Runner runners.Options
	// Progress, when set, gets a progress line (samples scored of the
	// total, samples/s) every ProgressEvery (default 500 ms), redrawn in
	// place with \r; Run ends it with a newline.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Run builds the pipeline for cfg, runs it to the end, and returns the
// summary it stored. cfg.RunID, StartedAt and Runner are filled in when
// empty.
func Run(ctx context.Context, cfg Config, opt RunOptions) (store.RescoreSummary, error) {
	st, err := storeio.OpenStore(ctx, storeio.Config{URL: cfg.StoreURL, Prefix: cfg.StorePrefix})
	if err != nil {
		return store.RescoreSummary{}, err
	}
	defer st.Close()
	if cfg.StartedAt.IsZero() {
		cfg.StartedAt = time.Now().UTC()
	}
	if cfg.RunID == "" {
		cfg.RunID = cfg.StartedAt.Format("20060102T150405.000Z")
	}
	if cfg.Runner == "" {
		cfg.Runner = opt.Runner.Runner
		if cfg.Runner == "" {
			cfg.Runner = runners.Prism
		}
	}
	total, err := st.Count(ctx)
	if err != nil {
		return store.RescoreSummary{}, err
	}
	p, s := beam.NewPipelineWithRoot()
	if err := Build(s, cfg); err != nil {
		return store.RescoreSummary{}, err
	}
	if opt.Runner.JobName == "" {
		opt.Runner.JobName = "stratus-rescore"
	}
	job, err := runners.Start(ctx, p, opt.Runner)
	if err != nil {
		return store.RescoreSummary{}, err
	}
	defer job.Close()
	if err := watch(ctx, job, total, opt); err != nil {
		return store.RescoreSummary{}, err
	}
	sum, err := st.GetRescore(ctx, store.RescoreID(cfg.ModelID, cfg.RunID))
	if err != nil {
		return store.RescoreSummary{}, fmt.Errorf("rescore: the job ended but stored no summary: %w", err)
	}
	return sum, nil
}

// watch waits for the job, drawing the progress line; a cancelled ctx
// stops the job.
func watch(ctx context.Context, job *runners.Job, total int, opt RunOptions) error {
	every := opt.ProgressEvery
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	start := time.Now()
	drawn := false
	draw := func() {
		n, err := job.Counter(ctx, MetricsNamespace, MetricScored)
		if err != nil || opt.Progress == nil {
			return
		}
		pct := 0.0
		if total > 0 {
			pct = 100 * float64(n) / float64(total)
		}
		fmt.Fprintf(opt.Progress, "\rrescore: %d of ≤%d samples scored (%.0f%%), %.0f samples/s, %s   ",
			n, total, pct, float64(n)/time.Since(start).Seconds(), time.Since(start).Round(time.Second))
		drawn = true
	}
	defer func() {
		if drawn {
			fmt.Fprintln(opt.Progress)
		}
	}()
	for {
		select {
		case <-job.Done():
			if opt.Progress != nil && drawn {
				draw()
			}
			return job.Wait(ctx)
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := job.Stop(stopCtx); err != nil {
				return fmt.Errorf("%w (and stopping the job: %w)", ctx.Err(), err)
			}
			return ctx.Err()
		case <-tick.C:
			if opt.Progress != nil {
				draw()
			}
		}
	}
}
