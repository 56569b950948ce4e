package stream

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/transforms/inference"
	"github.com/stratusml/stratus/transforms/kafkaio"
)

// envelope is what later steps need of an event; it rides through
// RunInference as the request's payload.
type envelope struct {
	Event      message.CanvasEvent `json:"event"`
	ReceivedAt time.Time           `json:"received_at"`
	Input28    [][]byte            `json:"input28"`
}

// prepareFn decodes, validates and preprocesses raw canvas events into
// inference requests; bad events become dead letters (JSON) naming the
// stage that refused them.
type prepareFn struct {
	events, dead beam.Counter
}

func (fn *prepareFn) Setup() {
	fn.events = beam.NewCounter("stratus.stream", "events_in")
	fn.dead = beam.NewCounter("stratus.stream", "dead_letters")
}

func (fn *prepareFn) ProcessElement(ctx context.Context, ts beam.EventTime, rec kafkaio.Record, emit func(beam.EventTime, inference.Request), deadLetter func([]byte)) {
	fn.events.Inc(ctx, 1)
	now := time.Now()
	req, dl := prepare(rec.Value, now)
	if dl != nil {
		fn.dead.Inc(ctx, 1)
		deadLetter(dl)
		return
	}
	emit(ts, req)
}

// prepare turns one raw event into a request, or into a dead letter.
func prepare(raw []byte, now time.Time) (inference.Request, []byte) {
	ev, err := message.DecodeCanvasEvent(raw, message.DecodeOptions{Envelope: true})
	if err != nil {
		stage, id := message.StageDecode, ""
		var se *message.StageError
		if errors.As(err, &se) {
			stage, id = se.Stage, se.ID
		}
		return inference.Request{}, deadLetterJSON(id, stage, err, raw, now)
	}
	digits, err := ev.Digits(preprocess.DefaultLimits())
	if err != nil {
		return inference.Request{}, deadLetterJSON(ev.ID, message.StagePreprocess, err, raw, now)
	}
	env := envelope{Event: ev, ReceivedAt: now.UTC(), Input28: make([][]byte, len(digits))}
	for i := range digits {
		env.Input28[i] = digits[i].Input[:]
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return inference.Request{}, deadLetterJSON(ev.ID, message.StagePreprocess, err, raw, now)
	}
	return inference.Request{Key: ev.ID, Digits: digits, Payload: payload}, nil
}

// deadLetterJSON encodes a dead letter; encoding a plain struct cannot fail.
func deadLetterJSON(id, stage string, err error, payload []byte, at time.Time) []byte {
	b, _ := json.Marshal(message.NewDeadLetter(id, stage, err, payload, at))
	return b
}
