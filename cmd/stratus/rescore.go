package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/pipelines/rescore"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
)

func runRescore(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("rescore", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	modelFlag := fs.String("model", "", "the model to score with: a registered model id, the shipped model's id, or a model file (required)")
	couch := fs.String("couchdb", "", "store URL: http://user:pass@host:5984 (required)")
	prefix := fs.String("db-prefix", "", "prefix of the database names")
	onlyLabelled := fs.Bool("only-labelled", false, "re-score only samples that a user labelled")
	since := fs.String("since", "", "re-score only samples created at or after this time: RFC 3339 (2026-11-25T10:00:00Z) or an age (24h)")
	runner := fs.String("runner", "prism", "Beam runner: "+runners.Names())
	endpoint := fs.String("endpoint", "", "job server host:port for --runner flink|spark|universal (prism: empty runs one in process)")
	envType := fs.String("environment-type", "loopback", "SDK worker environment for portable runners: loopback, process or docker")
	envConfig := fs.String("environment-config", "", "the environment's configuration (process: JSON command, docker: image)")
	parallelism := fs.Int("parallelism", 0, "job parallelism for runners that take one, e.g. Flink (0: the runner's default)")
	read := fs.String("read", string(rescore.ReadSDF), "store read: sdf (splittable, default) or ranges (key ranges + reshuffle, no splittable DoFn)")
	splits := fs.Int("splits", 16, "key ranges the read starts as")
	batch := fs.Int("batch-size", 256, "largest inference batch")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	fs.Usage = flagenv.Usage(fs, "stratus rescore --couchdb URL --model ID [flags]",
		"Re-scores stored samples with one model as a Beam batch pipeline: reads the\nsamples (splittable read of the store), runs them through the model in\nbatches, writes each sample's prediction under the model id (idempotent:\nrunning it twice changes nothing), and prints and stores a summary (samples\nscored, accuracy against user labels, answers changed against the model\nthe user was served, confusion matrix) in the models database. Shows a\nprogress line on a terminal.")
	if err := flagenv.Parse(fs, args, env.getenv); err != nil {
		return usageErr(err)
	}
	if *couch == "" {
		return fmt.Errorf("%w: --couchdb (or STRATUS_COUCHDB) is required", errUsage)
	}
	if *modelFlag == "" {
		return fmt.Errorf("%w: --model ID is required (stratus models list shows the registered ones)", errUsage)
	}
	sinceT, err := parseSince(*since, time.Now())
	if err != nil {
		return fmt.Errorf("%w: --since: %v", errUsage, err)
	}
	st, err := openStore(ctx, *couch, *prefix)
	if err != nil {
		return err
	}
	id, err := rescore.ResolveModel(ctx, st, *modelFlag)
	st.Close()
	if err != nil {
		return err
	}
	if _, statErr := os.Stat(*modelFlag); statErr == nil && *envType != "loopback" {
		env.log.Warn("rescore: --model is a file: the workers must see it at the same path; register it (stratus models register) to be sure", "file", *modelFlag)
	}
	cfg := rescore.Config{
		StoreURL: *couch, StorePrefix: *prefix, Model: *modelFlag, ModelID: id,
		OnlyLabelled: *onlyLabelled, Since: sinceT, Splits: *splits, Read: rescore.ReadMode(*read), MaxBatchSize: *batch,
	}
	opt := rescore.RunOptions{Runner: runners.Options{
		Runner: *runner, Endpoint: *endpoint, EnvironmentType: *envType, EnvironmentConfig: *envConfig, Parallelism: *parallelism,
	}}
	if isTerminal(env.stderr) {
		opt.Progress = env.stderr
	}
	start := time.Now()
	sum, err := rescore.Run(ctx, cfg, opt)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	printSummary(env.stdout, &sum, time.Since(start))
	return nil
}

// parseSince reads --since: an RFC 3339 time, or an age before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("negative age %s", s)
		}
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor an age like 24h", s)
	}
	return t.UTC(), nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printSummary(w io.Writer, s *store.RescoreSummary, took time.Duration) {
	fmt.Fprintf(w, "rescore: model %s on %s: %d samples scored in %s (%.0f samples/s); %d predictions written (new or changed), %d failed\n",
		s.Model, s.Runner, s.Scored, took.Round(time.Millisecond), float64(s.Scored)/took.Seconds(), s.Written, s.Failed)
	if s.Labelled > 0 {
		fmt.Fprintf(w, "accuracy against user labels: %.4f (%d of %d labelled samples)\n", s.Accuracy, s.Correct, s.Labelled)
	} else {
		fmt.Fprintln(w, "accuracy against user labels: no labelled samples")
	}
	if s.Compared > 0 {
		var from []string
		for m, n := range s.ChangedFrom {
			from = append(from, fmt.Sprintf("%d from %s", n, m))
		}
		fmt.Fprintf(w, "answers changed against the model served before: %d of %d (%s)\n", s.Changed, s.Compared, strings.Join(from, ", "))
	} else {
		fmt.Fprintln(w, "answers changed against the model served before: no sample had an earlier answer")
	}
	if s.Labelled > 0 {
		fmt.Fprintln(w, "confusion matrix (rows: the user's label, columns: the model's answer):")
		fmt.Fprint(w, "      ")
		for j := range store.Classes {
			fmt.Fprintf(w, "%6d", j)
		}
		fmt.Fprintln(w)
		for i := range store.Classes {
			fmt.Fprintf(w, "  %2d  ", i)
			for j := range store.Classes {
				fmt.Fprintf(w, "%6d", s.Confusion[i][j])
			}
			fmt.Fprintln(w)
		}
		if s.LengthMismatch > 0 {
			fmt.Fprintf(w, "(%d labelled numbers read with another number of digits are not in the matrix)\n", s.LengthMismatch)
		}
	}
	fmt.Fprintf(w, "summary stored as %s in the models database\n", s.ID)
}
