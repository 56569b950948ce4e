// Package rescore is the batch re-scoring pipeline: it reads the stored
// samples, scores them in batches with one model, writes each sample's
// prediction under that model's id, and stores a summary of the run.
//
//	storeio.Read(samples) → prepare ─→ RunInference(model) ─→ score ─┬→ storeio.Write (changed predictions only)
//	                           └→ unscorable     └→ failures          └→ outcomes ─┐
//	                                   └──────────────┴─────→ Combine(summary) ←───┴── written ids, dead letters
//	                                                               └→ store the summary (models database)
//
// Idempotent: a sample whose stored prediction of the model already says
// the same (same digits, probabilities within ProbTolerance) is not
// written again, so a second run over the same samples writes nothing and
// stores the same summary figures. The summary's figures do not depend on
// the runner or on how the read was split.
//
// The read is storeio.Read (a bounded splittable DoFn), or, with
// Config.Read = ReadRanges, storeio.ReadRanges (key ranges made by a plain
// DoFn and reshuffled), for runners that run no splittable DoFn.
package rescore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/transforms/inference"
	"github.com/stratusml/stratus/transforms/inference/cnn"
	"github.com/stratusml/stratus/transforms/storeio"
)

// ReadMode chooses the store read.
type ReadMode string

// Read modes.
const (
	// ReadSDF is storeio.Read, the splittable read (default).
	ReadSDF ReadMode = "sdf"
	// ReadRanges is storeio.ReadRanges: no splittable DoFn.
	ReadRanges ReadMode = "ranges"
)

// ProbTolerance is how far a stored probability may be from a new one for
// the prediction to count as the same (float32 sums may differ in the last
// bits between batch shapes).
const ProbTolerance = 1e-5

// Metric namespace and names: progress for a watching command.
const (
	MetricsNamespace = "stratus.rescore"
	MetricScored     = "scored"
)

// Config sets up a re-scoring run.
type Config struct {
	// StoreURL and StorePrefix name the store (storeio.Config); an empty
	// URL makes workers read $STRATUS_COUCHDB.
	StoreURL, StorePrefix string
	// Model is what the inference handler loads: a registered model id or
	// a model file (cnn.Config.Model). Required.
	Model string
	// ModelID is the id predictions are stored under: Model's id. Every
	// answer must come from it (a mismatch fails the pipeline).
	ModelID string
	// OnlyLabelled and Since filter the samples read.
	OnlyLabelled bool
	Since        time.Time
	// Splits is the number of key ranges the read starts as (default 16).
	Splits int
	// Read chooses the store read (default ReadSDF).
	Read ReadMode
	// MaxBatchSize bounds an inference batch (default 256).
	MaxBatchSize int
	// WriteBatch is how many samples the store write sends at once
	// (default 500).
	WriteBatch int
	// RunID names the run's summary (store.RescoreID(ModelID, RunID));
	// Runner and StartedAt are recorded in it.
	RunID     string
	Runner    string
	StartedAt time.Time
}

// Build adds the re-scoring pipeline to s. The summary it stores is
// store.RescoreID(cfg.ModelID, cfg.RunID) in the models database.
func Build(s beam.Scope, cfg Config) error {
	if cfg.Model == "" || cfg.ModelID == "" {
		return fmt.Errorf("rescore: no model")
	}
	if err := store.ValidateModelID(cfg.ModelID); err != nil {
		return fmt.Errorf("rescore: %w", err)
	}
	if cfg.RunID == "" {
		return fmt.Errorf("rescore: no run id")
	}
	if cfg.MaxBatchSize <= 0 {
		cfg.MaxBatchSize = 256
	}
	if cfg.Read == "" {
		cfg.Read = ReadSDF
	}
	s = s.Scope("stratus.Rescore")
	cc := storeio.Config{URL: cfg.StoreURL, Prefix: cfg.StorePrefix, BatchSize: cfg.WriteBatch}
	ro := storeio.ReadOptions{Splits: cfg.Splits, OnlyLabelled: cfg.OnlyLabelled, CreatedSince: cfg.Since}
	var samples beam.PCollection
	switch cfg.Read {
	case ReadSDF:
		samples = storeio.Read(s, cc, ro)
	case ReadRanges:
		samples = storeio.ReadRanges(s, cc, ro)
	default:
		return fmt.Errorf("rescore: read mode %q (want %s or %s)", cfg.Read, ReadSDF, ReadRanges)
	}

	requests, unscorable := beam.ParDo2(s.Scope("Prepare"), &prepareFn{ModelID: cfg.ModelID}, samples)
	responses, failures := inference.RunInference(s, inference.Config{
		Handler: cnn.HandlerName,
		HandlerConfig: cnn.Config{
			Model: cfg.Model, StoreURL: cfg.StoreURL, StorePrefix: cfg.StorePrefix, PollMillis: -1,
		}.String(),
		MaxBatchSize: cfg.MaxBatchSize,
		MaxBatchWait: time.Hour, // batch: fill the batch, flush at the end of the bundle
	}, requests)
	updates, outcomes := beam.ParDo2(s.Scope("Score"), &scoreFn{ModelID: cfg.ModelID}, responses)
	written, dead := storeio.Write(s, cc, updates)

	all := beam.Flatten(s,
		outcomes,
		beam.ParDo(s, outcomeOfWritten, written),
		beam.ParDo(s, outcomeOfDead, dead),
		beam.ParDo(s, outcomeOfFailure, failures),
		beam.ParDo(s, outcomeOfUnscorable, unscorable),
	)
	summary := beam.Combine(s.Scope("Summary"), &summaryFn{}, all)
	beam.ParDo0(s.Scope("StoreSummary"), &storeSummaryFn{
		URL: cfg.StoreURL, Prefix: cfg.StorePrefix,
		ID: store.RescoreID(cfg.ModelID, cfg.RunID), Model: cfg.ModelID, RunID: cfg.RunID, Runner: cfg.Runner,
		OnlyLabelled: cfg.OnlyLabelled, Since: cfg.Since, StartedAt: cfg.StartedAt,
	}, beam.Impulse(s), beam.SideInput{Input: summary})
	return nil
}

// Outcome is what one sample adds to the summary.
type Outcome struct {
	Kind OutcomeKind
	// For scored samples: the user's label, the new answer, and the
	// answer the user was served before (PrevModel empty when none).
	Label, Digits, Prev, PrevModel string
}

// OutcomeKind says what an Outcome counts.
type OutcomeKind int

// Outcome kinds.
const (
	Scored OutcomeKind = iota + 1
	Written
	Failed
)

// payload travels with a sample through RunInference.
type payload struct {
	Label     string                `json:"l,omitempty"`
	Prev      string                `json:"p,omitempty"`
	PrevModel string                `json:"pm,omitempty"`
	Same      *store.PredictionBody `json:"s,omitempty"` // the stored prediction of the model
	Boxes     []drawing.Box         `json:"b,omitempty"`
}

// prepareFn turns a sample into an inference request: its stored network
// inputs (input28), or, when it has none, its drawing preprocessed again
// (the one preprocessing path).
type prepareFn struct {
	ModelID string
}

func (fn *prepareFn) ProcessElement(smp store.Sample, emit func(inference.Request), fail func(string)) {
	digits, err := digitsOf(&smp)
	if err != nil || len(digits) == 0 {
		fail(smp.ID)
		return
	}
	p := payload{Label: smp.Label}
	if prev, ok := store.PreviousPrediction(&smp, fn.ModelID); ok {
		p.Prev, p.PrevModel = prev.Digits, prev.Model
		if len(prev.Candidates) == len(digits) {
			for _, c := range prev.Candidates {
				p.Boxes = append(p.Boxes, c.Box)
			}
		}
	}
	if same, ok := smp.Predictions[fn.ModelID]; ok {
		p.Same = &same
	}
	b, _ := json.Marshal(&p) // plain data always encodes
	emit(inference.Request{Key: smp.ID, Digits: digits, Payload: b})
}

// digitsOf returns a sample's network inputs.
func digitsOf(smp *store.Sample) ([]preprocess.Digit, error) {
	if len(smp.Input28) > 0 {
		ims, err := smp.Images28()
		if err != nil {
			return nil, err
		}
		out := make([]preprocess.Digit, len(ims))
		for i := range ims {
			out[i].Input = ims[i]
		}
		return out, nil
	}
	mode := smp.Mode
	if mode == "" {
		mode = drawing.ModeDigit
	}
	switch {
	case len(smp.Strokes) > 0:
		return recognize.StrokeDigits(smp.Strokes, smp.Width, smp.Height, mode)
	case len(smp.ImagePNG) > 0:
		// Stored samples passed the limits of their day (up to MaxSide²).
		img, err := preprocess.DecodePNG(smp.ImagePNG, drawing.LocalLimits())
		if err != nil {
			return nil, err
		}
		return recognize.Digits(img, mode)
	}
	return nil, fmt.Errorf("sample %s has no drawing", smp.ID)
}

var scoredCount = beam.NewCounter(MetricsNamespace, MetricScored)

// scoreFn turns an answer into the sample update to write (only when the
// stored prediction of the model differs) and the sample's Outcome.
type scoreFn struct {
	ModelID string
}

func (fn *scoreFn) ProcessElement(ctx context.Context, r inference.Response, emitUpdate func(store.Sample), emitOutcome func(Outcome)) error {
	if r.Result.Model != fn.ModelID {
		return fmt.Errorf("rescore: sample %s was answered by model %s, not %s", r.Key, r.Result.Model, fn.ModelID)
	}
	var p payload
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		return fmt.Errorf("rescore: payload of %s: %w", r.Key, err) // our own encoding: a bug
	}
	scoredCount.Inc(ctx, 1)
	res := r.Result
	if len(p.Boxes) == len(res.Candidates) {
		for i := range res.Candidates {
			res.Candidates[i].Box = p.Boxes[i]
		}
	}
	emitOutcome(Outcome{Kind: Scored, Label: p.Label, Digits: res.Digits, Prev: p.Prev, PrevModel: p.PrevModel})
	if p.Same != nil && samePrediction(p.Same, &res) {
		return nil
	}
	body := store.NewPredictionBody(message.Prediction{
		Digits: res.Digits, Candidates: res.Candidates, Confidence: res.Confidence, Model: res.Model,
		PredictedAt: time.Now().UTC(),
	})
	emitUpdate(store.Sample{ID: r.Key, Predictions: map[string]store.PredictionBody{fn.ModelID: body}})
	return nil
}

// samePrediction reports whether a stored prediction already says what res
// says: same digits, same candidates' digits, probabilities within
// ProbTolerance.
func samePrediction(old *store.PredictionBody, res *recognize.Result) bool {
	if old.Digits != res.Digits || len(old.Candidates) != len(res.Candidates) {
		return false
	}
	for i, c := range res.Candidates {
		o := old.Candidates[i]
		if o.Digit != c.Digit || len(o.Probabilities) != len(c.Probabilities) {
			return false
		}
		for k := range c.Probabilities {
			if math.Abs(float64(o.Probabilities[k]-c.Probabilities[k])) > ProbTolerance {
				return false
			}
		}
	}
	return true
}

func outcomeOfWritten(string) Outcome { return Outcome{Kind: Written} }

func outcomeOfDead(message.DeadLetter) Outcome { return Outcome{Kind: Failed} }

func outcomeOfFailure(inference.Failure) Outcome { return Outcome{Kind: Failed} }

func outcomeOfUnscorable(string) Outcome { return Outcome{Kind: Failed} }

// Summarize adds one outcome to a summary (the per-sample rule of the
// RescoreSummary figures).
func Summarize(sum *store.RescoreSummary, o Outcome) {
	switch o.Kind {
	case Written:
		sum.Written++
		return
	case Failed:
		sum.Failed++
		return
	}
	sum.Scored++
	if o.Label != "" {
		sum.Labelled++
		if o.Label == o.Digits {
			sum.Correct++
		}
		if len(o.Label) == len(o.Digits) {
			for i := 0; i < len(o.Label); i++ {
				l, d := int(o.Label[i]-'0'), int(o.Digits[i]-'0')
				if l >= 0 && l < store.Classes && d >= 0 && d < store.Classes {
					sum.Confusion[l][d]++
				}
			}
		} else {
			sum.LengthMismatch++
		}
	}
	if o.PrevModel != "" {
		sum.Compared++
		if o.Prev != o.Digits {
			sum.Changed++
			if sum.ChangedFrom == nil {
				sum.ChangedFrom = map[string]int64{}
			}
			sum.ChangedFrom[o.PrevModel]++
		}
	}
	sum.Finish()
}

// summaryFn combines Outcomes into one RescoreSummary.
type summaryFn struct{}

func (*summaryFn) CreateAccumulator() store.RescoreSummary { return store.RescoreSummary{} }

func (*summaryFn) AddInput(acc store.RescoreSummary, o Outcome) store.RescoreSummary {
	Summarize(&acc, o)
	return acc
}

func (*summaryFn) MergeAccumulators(a, b store.RescoreSummary) store.RescoreSummary {
	a.Add(&b)
	return a
}

func (*summaryFn) ExtractOutput(acc store.RescoreSummary) store.RescoreSummary { return acc }

// storeSummaryFn stores the run's summary once every sample is counted (it
// runs on the Impulse, with the combined summary as a side input: an empty
// run still stores one).
type storeSummaryFn struct {
	URL, Prefix      string
	ID, Model, RunID string
	Runner           string
	OnlyLabelled     bool
	Since, StartedAt time.Time
}

func (fn *storeSummaryFn) ProcessElement(ctx context.Context, _ []byte, sums func(*store.RescoreSummary) bool) error {
	out := store.RescoreSummary{}
	var part store.RescoreSummary
	for sums(&part) {
		out.Add(&part)
		part = store.RescoreSummary{}
	}
	out.ID, out.Model, out.RunID, out.Runner = fn.ID, fn.Model, fn.RunID, fn.Runner
	out.OnlyLabelled, out.Since, out.StartedAt = fn.OnlyLabelled, fn.Since, fn.StartedAt
	out.FinishedAt = time.Now().UTC()
	out.Finish()
	st, err := storeio.OpenStore(ctx, storeio.Config{URL: fn.URL, Prefix: fn.Prefix})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.PutRescore(ctx, out); err != nil {
		return fmt.Errorf("rescore: store the summary: %w", err)
	}
	return nil
}

func init() {
	beam.RegisterType(reflect.TypeOf((*Outcome)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*store.RescoreSummary)(nil)).Elem())
	register.Function1x2(encodeSummary)
	register.Function1x2(decodeSummary)
	beam.RegisterCoder(reflect.TypeOf((*store.RescoreSummary)(nil)).Elem(), encodeSummary, decodeSummary)
	register.DoFn3x0[store.Sample, func(inference.Request), func(string)]((*prepareFn)(nil))
	register.Emitter1[inference.Request]()
	register.Emitter1[string]()
	register.DoFn4x1[context.Context, inference.Response, func(store.Sample), func(Outcome), error]((*scoreFn)(nil))
	register.Emitter1[store.Sample]()
	register.Emitter1[Outcome]()
	register.Function1x1(outcomeOfWritten)
	register.Function1x1(outcomeOfDead)
	register.Function1x1(outcomeOfFailure)
	register.Function1x1(outcomeOfUnscorable)
	register.Combiner3[store.RescoreSummary, Outcome, store.RescoreSummary](&summaryFn{})
	register.DoFn3x1[context.Context, []byte, func(*store.RescoreSummary) bool, error]((*storeSummaryFn)(nil))
	register.Iter1[store.RescoreSummary]()
}

func encodeSummary(s store.RescoreSummary) ([]byte, error) { return json.Marshal(s) }

func decodeSummary(b []byte) (s store.RescoreSummary, err error) {
	err = json.Unmarshal(b, &s)
	return s, err
}
