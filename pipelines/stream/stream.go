// Package stream is the Stratus streaming pipeline: canvas events from Kafka
// are decoded, validated and preprocessed, run through the CNN in batches,
// and answered twice: the Prediction is written to the reply topic, keyed by
// the frontend replica that waits for it, and the sample with its prediction
// is written to the samples topic, from which a second read of the same
// pipeline upserts it into the store (CouchDB). Bad events go to the
// dead-letter topic with the stage and the reason; nothing is dropped
// silently.
//
//	kafkaio.Read(stratus.canvas) → prepare ─┬→ RunInference ─→ answer ─┬→ Prediction (stratus.predictions)
//	                                        │                          └→ sample (stratus.samples)
//	                                        └→ dead letters (decode, validate, preprocess, predict)
//	                                                                     → stratus.deadletter
//	                                           (+ an error reply to the sender, when known)
//	kafkaio.Read(stratus.samples) → decode → storeio.WriteWaiting(samples) ─┬→ dead letters (store: invalid)
//	                                                                       └→ back to stratus.samples (store down)
//
// The samples topic is a write-ahead log between the answers and the store:
// the store being slow or down delays only the second read, whose offsets
// are committed when its samples are stored, so answers keep flowing and
// every sample reaches the store once it is back, also across restarts.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/stratusml/stratus/internal/kafkasec"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/recognize"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/transforms/inference"
	"github.com/stratusml/stratus/transforms/inference/cnn"
	"github.com/stratusml/stratus/transforms/kafkaio"
	"github.com/stratusml/stratus/transforms/storeio"
)

// Config sets up the streaming pipeline. Zero fields take the names of docs/contracts.md
// and the defaults of the transforms.
type Config struct {
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// KafkaSecurity is TLS and SASL for every Kafka connection.
	KafkaSecurity kafkasec.Config
	// Topics (default message.TopicCanvas, TopicPredictions, TopicDeadLetter,
	// TopicSamples).
	CanvasTopic, PredictionsTopic, DeadLetterTopic, SamplesTopic string
	// GroupID is the consumer group whose committed offsets the pipeline
	// resumes from (default "stratus-stream").
	GroupID string
	// StartFrom applies to partitions without a committed offset (default latest).
	StartFrom kafkaio.StartOffset
	// StoreURL is the store's URL (CouchDB); StorePrefix prefixes its databases.
	StoreURL, StorePrefix string
	// ModelPath is a model file or a model id (registered in the store's
	// models database, or the shipped model's); "" serves the registry's
	// active model, and follows it: a newly activated model is picked up
	// within ModelPoll, without a restart (the shipped model while none is
	// active).
	ModelPath string
	// ModelPoll is how often the active model is checked (default
	// cnn.DefaultPollInterval).
	ModelPoll time.Duration
	// MaxBatchSize and MaxBatchWait bound inference batches.
	MaxBatchSize int
	MaxBatchWait time.Duration
	// PollTimeout is how long the Kafka read waits for a record before it
	// checkpoints (default 10 ms).
	PollTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.CanvasTopic == "" {
		c.CanvasTopic = message.TopicCanvas
	}
	if c.PredictionsTopic == "" {
		c.PredictionsTopic = message.TopicPredictions
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = message.TopicDeadLetter
	}
	if c.SamplesTopic == "" {
		c.SamplesTopic = message.TopicSamples
	}
	if c.GroupID == "" {
		c.GroupID = "stratus-stream"
	}
	if c.StartFrom == "" {
		c.StartFrom = kafkaio.StartLatest
	}
	if c.PollTimeout == 0 {
		// Measured: 10 ms instead of kafkaio's 100 ms halves event → reply p50.
		c.PollTimeout = 10 * time.Millisecond
	}
	return c
}

// StoreGroupID is the consumer group of the store branch, which reads the
// samples topic (the outbox) and writes CouchDB: GroupID + "-store".
func (c Config) StoreGroupID() string { return c.withDefaults().GroupID + "-store" }

// Build adds the streaming pipeline to s.
func Build(s beam.Scope, cfg Config) error {
	cfg = cfg.withDefaults()
	if len(cfg.Brokers) == 0 {
		return fmt.Errorf("stream: no Kafka brokers")
	}
	if cfg.StoreURL == "" {
		return fmt.Errorf("stream: no store URL")
	}
	s = s.Scope("stratus.Stream")
	records := kafkaio.Read(s, kafkaio.ReadConfig{
		Brokers: cfg.Brokers, Topic: cfg.CanvasTopic, GroupID: cfg.GroupID, StartFrom: cfg.StartFrom,
		PollTimeout: cfg.PollTimeout, Security: cfg.KafkaSecurity,
	})
	requests, badEvents := beam.ParDo2(s.Scope("Prepare"), &prepareFn{}, records)
	responses, failures := inference.RunInference(s, inference.Config{
		Handler: cnn.HandlerName,
		HandlerConfig: cnn.Config{
			Model: cfg.ModelPath, StoreURL: cfg.StoreURL, StorePrefix: cfg.StorePrefix, PollMillis: cfg.ModelPoll.Milliseconds(),
		}.String(),
		MaxBatchSize: cfg.MaxBatchSize, MaxBatchWait: cfg.MaxBatchWait,
	}, requests)
	samples, replies := beam.ParDo2(s.Scope("Answer"), &answerFn{PredictionsTopic: cfg.PredictionsTopic, SamplesTopic: cfg.SamplesTopic}, responses)
	// Replies get a Write of their own, fused with the steps before it (a
	// Flatten with the dead letters would put them behind a stage boundary),
	// that sends each reply as soon as it is made (FlushRecords 1) instead of
	// at the end of the bundle.
	kafkaio.Write(s.Scope("Replies"), kafkaio.WriteConfig{Brokers: cfg.Brokers, FlushRecords: 1, Security: cfg.KafkaSecurity}, replies)
	kafkaio.Write(s.Scope("Samples"), kafkaio.WriteConfig{Brokers: cfg.Brokers, Security: cfg.KafkaSecurity}, samples)

	// The store writer: its own read of the samples topic, from the start
	// of what its group has not committed.
	ss := s.Scope("Store")
	stored := kafkaio.Read(ss, kafkaio.ReadConfig{
		Brokers: cfg.Brokers, Topic: cfg.SamplesTopic, GroupID: cfg.StoreGroupID(), StartFrom: kafkaio.StartEarliest,
		PollTimeout: cfg.PollTimeout, Security: cfg.KafkaSecurity,
	})
	toStore, undecodable := beam.ParDo2(ss, decodeSample, stored)
	_, storeFailures, retry := storeio.WriteWaiting(ss, storeio.Config{URL: cfg.StoreURL, Prefix: cfg.StorePrefix, EnsureSchema: true}, toStore)
	// Samples the store did not take (it is down) go back on the samples
	// topic, and so come round again once it is up.
	kafkaio.Write(ss.Scope("Retry"), kafkaio.WriteConfig{Brokers: cfg.Brokers, Security: cfg.KafkaSecurity},
		beam.ParDo(ss, &sampleRecordFn{Topic: cfg.SamplesTopic}, retry))

	dl := cfg.DeadLetterTopic
	// Dead letters, and error replies to the events whose sender is known
	// (each record names its topic).
	pt := cfg.PredictionsTopic
	dead := beam.Flatten(s,
		beam.ParDo(s, &eventDeadLetterFn{Topic: dl, PredictionsTopic: pt}, badEvents),
		beam.ParDo(s, &predictDeadLetterFn{Topic: dl, PredictionsTopic: pt}, failures),
	)
	kafkaio.Write(s.Scope("DeadLetters"), kafkaio.WriteConfig{Brokers: cfg.Brokers, Security: cfg.KafkaSecurity}, dead)
	// The store writer's dead letters get a Write of their own: a Flatten
	// with the others would let the runner fuse both reads into one stage
	// (prism's greedy fusion does), where a store outage would hold up the
	// answers too.
	storeDead := beam.Flatten(ss, storeFailures, undecodable)
	kafkaio.Write(ss.Scope("DeadLetters"), kafkaio.WriteConfig{Brokers: cfg.Brokers, Security: cfg.KafkaSecurity},
		beam.ParDo(ss, &storeDeadLetterFn{Topic: dl}, storeDead))
	return nil
}

// answerFn turns an inference response into the record of the sample to
// store and the Prediction record for the reply topic.
type answerFn struct {
	PredictionsTopic, SamplesTopic string
}

func (fn *answerFn) ProcessElement(ctx context.Context, ts beam.EventTime, r inference.Response, emitSample func(beam.EventTime, kafkaio.Record), emitReply func(beam.EventTime, kafkaio.Record)) error {
	var env envelope
	if err := json.Unmarshal(r.Payload, &env); err != nil {
		return fmt.Errorf("stream: payload of %s: %w", r.Key, err) // our own encoding: a bug, fail loudly
	}
	pred := recognize.NewPrediction(&env.Event, r.Result, env.ReceivedAt, time.Now())
	sample := store.NewSample(&env.Event)
	sample.Input28 = env.Input28
	if in := r.Result.Inputs; len(in) > 0 && len(in) == len(r.Result.Candidates) {
		// In number mode a split reading may have won: store the inputs of
		// the digits it read, one per candidate.
		sample.Input28 = make([][]byte, len(in))
		for i := range in {
			sample.Input28[i] = append([]byte(nil), in[i][:]...)
		}
	}
	sample.Predictions = map[string]store.PredictionBody{pred.Model: store.NewPredictionBody(pred)}
	value, err := json.Marshal(pred)
	if err != nil {
		return fmt.Errorf("stream: encode prediction %s: %w", r.Key, err)
	}
	rec, err := sampleRecord(fn.SamplesTopic, &sample)
	if err != nil {
		return err
	}
	emitReply(ts, kafkaio.Record{Topic: fn.PredictionsTopic, Key: []byte(env.Event.ReplyTo), Value: value})
	emitSample(ts, rec)
	return nil
}

// sampleRecord is smp's record of the samples topic (keyed by its id).
func sampleRecord(topic string, smp *store.Sample) (kafkaio.Record, error) {
	doc, err := json.Marshal(smp)
	if err != nil {
		return kafkaio.Record{}, fmt.Errorf("stream: encode sample %s: %w", smp.ID, err)
	}
	return kafkaio.Record{Topic: topic, Key: []byte(smp.ID), Value: doc}, nil
}

// sampleRecordFn turns a sample back into its record of the samples topic.
type sampleRecordFn struct{ Topic string }

func (fn *sampleRecordFn) ProcessElement(smp store.Sample) (kafkaio.Record, error) {
	return sampleRecord(fn.Topic, &smp)
}

// decodeSample reads a sample record of the samples topic; one that does
// not decode (written by something else) becomes a dead letter.
func decodeSample(ts beam.EventTime, rec kafkaio.Record, emit func(beam.EventTime, store.Sample), dead func(message.DeadLetter)) {
	var smp store.Sample
	if err := json.Unmarshal(rec.Value, &smp); err != nil || smp.ID == "" {
		if err == nil {
			err = errors.New("sample record without an id")
		}
		dead(message.NewDeadLetter(string(rec.Key), message.StageStore, fmt.Errorf("sample record at offset %d: %w", rec.Offset, err), rec.Value, time.Now()))
		return
	}
	emit(ts, smp)
}

// The three dead-letter DoFns shape each kind of failure as a record for
// the dead-letter topic, keyed by event id.

// eventDeadLetterFn writes the dead letter prepare encoded (stages decode,
// validate, preprocess) and, when the event's sender is known, its error
// reply.
type eventDeadLetterFn struct{ Topic, PredictionsTopic string }

func (fn *eventDeadLetterFn) ProcessElement(r rejection, emit func(kafkaio.Record)) {
	emit(kafkaio.Record{Topic: fn.Topic, Key: []byte(r.ID), Value: r.DeadLetter})
	if r.ReplyTo != "" && r.ID != "" {
		env := message.Envelope{ID: r.ID, Rev: r.Rev, Session: r.Session, ReplyTo: r.ReplyTo}
		reply := message.NewErrorReply(env, r.Stage, errors.New(r.Error), time.Now())
		emit(kafkaio.Record{Topic: fn.PredictionsTopic, Key: []byte(r.ReplyTo), Value: mustJSON(reply)})
	}
}

// predictDeadLetterFn records an inference failure (stage predict) and
// answers its sender with an error reply.
type predictDeadLetterFn struct{ Topic, PredictionsTopic string }

func (fn *predictDeadLetterFn) ProcessElement(f inference.Failure, emit func(kafkaio.Record)) {
	var env envelope
	_ = json.Unmarshal(f.Payload, &env) // our own payload; the raw event is best effort
	raw, _ := json.Marshal(env.Event)
	now := time.Now()
	cause := errors.New(f.Error)
	dl := message.NewDeadLetter(f.Key, message.StagePredict, cause, raw, now)
	emit(kafkaio.Record{Topic: fn.Topic, Key: []byte(f.Key), Value: mustJSON(dl)})
	if env.Event.ReplyTo != "" {
		reply := message.NewErrorReply(env.Event.Envelope(), message.StagePredict, cause, now)
		emit(kafkaio.Record{Topic: fn.PredictionsTopic, Key: []byte(env.Event.ReplyTo), Value: mustJSON(reply)})
	}
}

// storeDeadLetterFn records a sample the store refused (stage store).
type storeDeadLetterFn struct{ Topic string }

func (fn *storeDeadLetterFn) ProcessElement(dl message.DeadLetter) kafkaio.Record {
	return kafkaio.Record{Topic: fn.Topic, Key: []byte(dl.ID), Value: mustJSON(dl)}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("stream: encode %T: %v", v, err)) // plain structs always encode
	}
	return b
}

func init() {
	beam.RegisterType(reflect.TypeOf((*rejection)(nil)).Elem())
	register.DoFn5x0[context.Context, beam.EventTime, kafkaio.Record, func(beam.EventTime, inference.Request), func(rejection)]((*prepareFn)(nil))
	register.Emitter2[beam.EventTime, inference.Request]()
	register.Emitter1[rejection]()
	register.Emitter1[kafkaio.Record]()
	register.DoFn5x1[context.Context, beam.EventTime, inference.Response, func(beam.EventTime, kafkaio.Record), func(beam.EventTime, kafkaio.Record), error]((*answerFn)(nil))
	register.Function4x0(decodeSample)
	register.DoFn1x2[store.Sample, kafkaio.Record, error]((*sampleRecordFn)(nil))
	register.Emitter2[beam.EventTime, store.Sample]()
	register.Emitter1[message.DeadLetter]()
	register.Emitter2[beam.EventTime, kafkaio.Record]()
	register.DoFn2x0[rejection, func(kafkaio.Record)]((*eventDeadLetterFn)(nil))
	register.DoFn2x0[inference.Failure, func(kafkaio.Record)]((*predictDeadLetterFn)(nil))
	register.DoFn1x1[message.DeadLetter, kafkaio.Record]((*storeDeadLetterFn)(nil))
}
