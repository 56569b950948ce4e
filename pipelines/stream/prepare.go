package stream

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/recognize"
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

// rejection is an event prepare refused: its dead letter (JSON) and, when
// the event's envelope could be read, who to tell.
type rejection struct {
	DeadLetter []byte
	ID         string
	Rev        int
	Session    string
	ReplyTo    string
	Stage      string
	Error      string
}

// prepareFn decodes, validates and preprocesses raw canvas events into
// inference requests; bad events become rejections naming the stage that
// refused them.
type prepareFn struct {
	events, dead beam.Counter
}

func (fn *prepareFn) Setup() {
	fn.events = beam.NewCounter("stratus.stream", "events_in")
	fn.dead = beam.NewCounter("stratus.stream", "dead_letters")
}

func (fn *prepareFn) ProcessElement(ctx context.Context, ts beam.EventTime, rec kafkaio.Record, emit func(beam.EventTime, inference.Request), reject func(rejection)) {
	fn.events.Inc(ctx, 1)
	now := time.Now()
	req, rej := prepare(rec.Value, now)
	if rej != nil {
		fn.dead.Inc(ctx, 1)
		reject(*rej)
		return
	}
	emit(ts, req)
}

// prepare turns one raw event into a request, or into a rejection.
func prepare(raw []byte, now time.Time) (inference.Request, *rejection) {
	ev, err := message.DecodeCanvasEvent(raw, message.DecodeOptions{Envelope: true})
	if err != nil {
		stage := message.StageDecode
		var se *message.StageError
		if errors.As(err, &se) {
			stage = se.Stage
		}
		env := message.ReadEnvelope(raw)
		return inference.Request{}, reject(env, stage, err, raw, now)
	}
	envOf := message.Envelope{ID: ev.ID, Session: ev.Session, ReplyTo: ev.ReplyTo}
	digits, err := recognize.EventDigits(&ev, drawing.DefaultLimits())
	if err != nil {
		return inference.Request{}, reject(envOf, message.StagePreprocess, err, raw, now)
	}
	env := envelope{Event: ev, ReceivedAt: now.UTC(), Input28: make([][]byte, len(digits))}
	for i := range digits {
		env.Input28[i] = digits[i].Input[:]
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return inference.Request{}, reject(envOf, message.StagePreprocess, err, raw, now)
	}
	return inference.Request{Key: ev.ID, Digits: digits, Payload: payload}, nil
}

// reject builds the rejection of an event; encoding a plain struct cannot fail.
func reject(env message.Envelope, stage string, err error, payload []byte, at time.Time) *rejection {
	b, _ := json.Marshal(message.NewDeadLetter(env.ID, stage, err, payload, at))
	return &rejection{DeadLetter: b, ID: env.ID, Rev: env.Rev, Session: env.Session, ReplyTo: env.ReplyTo, Stage: stage, Error: err.Error()}
}
