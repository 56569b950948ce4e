// Package message holds the wire contracts of Stratus (docs/contracts.md): the
// CanvasEvent a frontend sends, the Prediction the pipeline answers and the
// DeadLetter it writes for bad events, with the topics they travel on and a
// strict decoder for events from outside.
package message

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratusml/stratus/drawing"
)

// Version is the "v" of every message this package writes.
const Version = 1

// Kafka topics.
const (
	TopicCanvas      = "stratus.canvas"
	TopicPredictions = "stratus.predictions"
	TopicDeadLetter  = "stratus.deadletter"
	// TopicSamples carries the sample documents from the streaming pipeline
	// to its store writer (key = event id): the write-ahead log that lets
	// answers flow while the store is down.
	TopicSamples = "stratus.samples"
)

// MaxRecordBytes is the largest Kafka record Stratus writes (an event or a
// sample with a 2 MiB PNG in base64 JSON, with room): brokers and topics
// must allow it (message.max.bytes / max.message.bytes).
const MaxRecordBytes = 8 << 20

// Limits on the envelope that drawing.Limits does not cover.
const (
	// MaxIDLen bounds id, session and reply_to.
	MaxIDLen = 128
	// MaxRev bounds an event's rev.
	MaxRev = 1<<31 - 1
	// MaxEventBytes bounds a whole CanvasEvent: a 2 MiB PNG in base64 plus room.
	MaxEventBytes = 2<<20*4/3 + 64<<10
	// DeadLetterPayload is how much of a bad event a dead letter keeps.
	DeadLetterPayload = 4 << 10
)

// Stages a dead letter can name.
const (
	StageDecode     = "decode"
	StageValidate   = "validate"
	StagePreprocess = "preprocess"
	StagePredict    = "predict"
	StageStore      = "store"
)

// CanvasEvent is one drawing to recognise; topic stratus.canvas, key = Session.
type CanvasEvent struct {
	V  int    `json:"v"`
	ID string `json:"id"`
	// Rev is the revision of drawing ID this event carries: 1 (or 0,
	// which means 1) for its first version, higher for each later one (a
	// live drawing is revised as the pen moves). Its Prediction echoes it,
	// so that a reply answers this version and no other.
	Rev      int              `json:"rev,omitempty"`
	Session  string           `json:"session"`
	ReplyTo  string           `json:"reply_to"`
	Mode     drawing.Mode     `json:"mode"`
	Width    int              `json:"width"`
	Height   int              `json:"height"`
	Strokes  []drawing.Stroke `json:"strokes,omitempty"`
	ImagePNG []byte           `json:"image_png,omitempty"` // base64 in JSON
	SentAt   time.Time        `json:"sent_at"`
}

// Prediction is the answer to a CanvasEvent; topic stratus.predictions, key = ReplyTo.
//
// An event the pipeline could not answer (it went to the dead-letter topic)
// whose reply_to could be read is also answered, with an error reply: Error
// and Stage set (as in its DeadLetter), no digits, so that the client that
// waits learns why at once instead of timing out.
type Prediction struct {
	V           int                 `json:"v"`
	ID          string              `json:"id"`
	Rev         int                 `json:"rev,omitempty"` // the event's, echoed
	Session     string              `json:"session"`
	Digits      string              `json:"digits"`
	Candidates  []drawing.Candidate `json:"candidates"`
	Confidence  float64             `json:"confidence"`
	Model       string              `json:"model"`
	ReceivedAt  time.Time           `json:"received_at"`
	PredictedAt time.Time           `json:"predicted_at"`
	// Error and Stage are set on an error reply only.
	Error string `json:"error,omitempty"`
	Stage string `json:"stage,omitempty"`
}

// NewErrorReply is the error reply to the event of env: why it failed
// and at which stage.
func NewErrorReply(env Envelope, stage string, err error, at time.Time) Prediction {
	return Prediction{V: Version, ID: env.ID, Rev: env.Rev, Session: env.Session, Error: err.Error(), Stage: stage, ReceivedAt: at.UTC(), PredictedAt: at.UTC()}
}

// Envelope returns the part of e that its answer must name.
func (e *CanvasEvent) Envelope() Envelope {
	return Envelope{ID: e.ID, Rev: e.Rev, Session: e.Session, ReplyTo: e.ReplyTo}
}

// Envelope is the part of an event a failed decode can still tell: enough
// to answer its sender. ReadEnvelope reads it leniently from raw JSON.
type Envelope struct {
	ID      string `json:"id"`
	Rev     int    `json:"rev"`
	Session string `json:"session"`
	ReplyTo string `json:"reply_to"`
}

// ReadEnvelope reads what it can of an event's envelope; fields it cannot
// read (bad JSON, wrong types, over MaxIDLen) stay empty.
func ReadEnvelope(raw []byte) Envelope {
	var e Envelope
	if json.Unmarshal(raw, &e) != nil {
		// A rev of the wrong type must not cost the rest.
		var noRev struct {
			ID      string `json:"id"`
			Session string `json:"session"`
			ReplyTo string `json:"reply_to"`
		}
		if json.Unmarshal(raw, &noRev) != nil {
			return Envelope{}
		}
		e = Envelope{ID: noRev.ID, Session: noRev.Session, ReplyTo: noRev.ReplyTo}
	}
	if e.Rev < 0 || e.Rev > MaxRev {
		e.Rev = 0
	}
	for _, f := range []*string{&e.ID, &e.Session, &e.ReplyTo} {
		if len(*f) > MaxIDLen || !utf8.ValidString(*f) {
			*f = ""
		}
	}
	return e
}

// DeadLetter records an event the pipeline could not answer; topic stratus.deadletter.
type DeadLetter struct {
	V       int       `json:"v"`
	ID      string    `json:"id,omitempty"`
	Error   string    `json:"error"`
	Stage   string    `json:"stage"`
	Payload []byte    `json:"payload"` // first DeadLetterPayload bytes, base64 in JSON
	At      time.Time `json:"at"`
}

// NewDeadLetter builds a dead letter for payload that failed at stage.
func NewDeadLetter(id, stage string, err error, payload []byte, at time.Time) DeadLetter {
	if len(payload) > DeadLetterPayload {
		payload = payload[:DeadLetterPayload]
	}
	return DeadLetter{V: Version, ID: id, Error: err.Error(), Stage: stage, Payload: payload, At: at.UTC()}
}

// StageError is an error that knows at which stage an event failed.
type StageError struct {
	Stage string
	ID    string // event id, when it could be read
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *StageError) Unwrap() error { return e.Err }

// ErrVersion means the event's "v" is not one this build understands.
var ErrVersion = errors.New("unsupported message version")

// wireEvent is CanvasEvent with strokes kept raw so that their size limit
// can be checked on the bytes the sender wrote.
type wireEvent struct {
	V        *int            `json:"v"`
	ID       string          `json:"id"`
	Rev      int             `json:"rev"`
	Session  string          `json:"session"`
	ReplyTo  string          `json:"reply_to"`
	Mode     string          `json:"mode"`
	Width    int             `json:"width"`
	Height   int             `json:"height"`
	Strokes  json.RawMessage `json:"strokes"`
	ImagePNG *string         `json:"image_png"`
	SentAt   *time.Time      `json:"sent_at"`
}

// DecodeOptions say which envelope fields an entry point requires.
type DecodeOptions struct {
	// Envelope requires id and reply_to (events on Kafka); the HTTP API
	// leaves them to the frontend.
	Envelope bool
	Limits   drawing.Limits
}

// DecodeCanvasEvent decodes and validates a CanvasEvent from outside input:
// JSON shape (unknown and repeated members refused, in points too), version, ids, mode, canvas size,
// exactly one of strokes or image_png, and the limits of docs/contracts.md. A
// failure is a *StageError with stage decode (not a readable event) or
// validate (readable but outside the rules); both wrap drawing.ErrInvalid
// or drawing.ErrTooLarge.
//
// It is long because it is the contract's checks in order, each a line or
// two returning through fail or invalid with the event's id; split, the
// order of the checks (which decides the error a bad event gets) would be
// spread over several functions.
func DecodeCanvasEvent(data []byte, opt DecodeOptions) (CanvasEvent, error) {
	lim := opt.Limits
	if lim == (drawing.Limits{}) {
		lim = drawing.DefaultLimits()
	}
	fail := func(stage, id string, err error) (CanvasEvent, error) {
		return CanvasEvent{}, &StageError{Stage: stage, ID: id, Err: err}
	}
	if len(data) > MaxEventBytes {
		return fail(StageDecode, "", fmt.Errorf("%w: event is %d bytes, the limit is %d", drawing.ErrTooLarge, len(data), MaxEventBytes))
	}
	if !utf8.Valid(data) {
		return fail(StageDecode, "", fmt.Errorf("%w: event is not valid UTF-8", drawing.ErrInvalid))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return fail(StageDecode, "", fmt.Errorf("%w: event JSON: %w", drawing.ErrInvalid, err))
	}
	if dec.More() {
		return fail(StageDecode, "", fmt.Errorf("%w: trailing data after the event JSON", drawing.ErrInvalid))
	}
	if name := repeatedMember(data); name != "" {
		return fail(StageDecode, "", fmt.Errorf("%w: event JSON: member %q is given twice", drawing.ErrInvalid, name))
	}
	id := w.ID
	if len(id) > MaxIDLen {
		id = id[:MaxIDLen]
	}
	invalid := func(format string, args ...any) (CanvasEvent, error) {
		return fail(StageValidate, id, fmt.Errorf("%w: "+format, append([]any{drawing.ErrInvalid}, args...)...))
	}
	switch {
	case w.V != nil && *w.V != Version:
		return fail(StageValidate, id, fmt.Errorf("%w %d (this build reads v=%d)", ErrVersion, *w.V, Version))
	case len(w.ID) > MaxIDLen || len(w.Session) > MaxIDLen || len(w.ReplyTo) > MaxIDLen:
		return invalid("id, session and reply_to are at most %d bytes", MaxIDLen)
	case opt.Envelope && (w.ID == "" || w.ReplyTo == ""):
		return invalid("id and reply_to are required")
	case w.Rev < 0 || w.Rev > MaxRev:
		return invalid("rev must be between 1 and %d", MaxRev)
	}
	mode, err := drawing.ParseMode(w.Mode)
	if err != nil {
		return fail(StageValidate, id, err)
	}
	ev := CanvasEvent{V: Version, ID: w.ID, Rev: w.Rev, Session: w.Session, ReplyTo: w.ReplyTo, Mode: mode, Width: w.Width, Height: w.Height}
	if w.SentAt != nil {
		ev.SentAt = *w.SentAt
	}
	hasStrokes := len(w.Strokes) > 0 && string(w.Strokes) != "null"
	hasPNG := w.ImagePNG != nil && *w.ImagePNG != ""
	switch {
	case hasStrokes == hasPNG:
		return invalid("give exactly one of strokes or image_png")
	case hasStrokes:
		strokes, err := drawing.DecodeStrokesJSON(w.Strokes, lim)
		if err != nil {
			return fail(StageValidate, id, err)
		}
		if err := drawing.ValidateStrokes(strokes, w.Width, w.Height, lim); err != nil {
			return fail(StageValidate, id, err)
		}
		ev.Strokes = strokes
	default:
		if base64.StdEncoding.DecodedLen(len(*w.ImagePNG)) > lim.MaxPNGBytes+3 {
			return fail(StageValidate, id, fmt.Errorf("%w: image_png is over the %d-byte limit", drawing.ErrTooLarge, lim.MaxPNGBytes))
		}
		raw, err := base64.StdEncoding.DecodeString(*w.ImagePNG)
		if err != nil {
			return invalid("image_png is not base64: %v", err)
		}
		if len(raw) > lim.MaxPNGBytes {
			return fail(StageValidate, id, fmt.Errorf("%w: image_png is %d bytes, the limit is %d", drawing.ErrTooLarge, len(raw), lim.MaxPNGBytes))
		}
		// The header alone, against the picture limits (sides, pixel
		// budget): a picture over them is refused here, before it is
		// sent anywhere or decoded.
		cfg, err := drawing.ReadPNGInfo(raw, lim)
		if err != nil {
			return fail(StageValidate, id, fmt.Errorf("image_png: %w", err))
		}
		ev.ImagePNG = raw
		if ev.Width == 0 && ev.Height == 0 {
			ev.Width, ev.Height = cfg.Width, cfg.Height
		}
	}
	return ev, nil
}

// repeatedMember returns the first member name of the top-level object in
// data that repeats an earlier one, compared as encoding/json matches field
// names (ignoring case), or "" when none does. encoding/json keeps the last
// of repeated members, other readers the first: an event must mean one
// thing to every reader (a proxy, a log, the pipeline), so it may not say a
// member twice. data must be valid JSON: DecodeCanvasEvent has decoded it,
// with unknown fields refused, so the names are few and each is short.
func repeatedMember(data []byte) string {
	i := bytes.IndexByte(data, '{')
	if i < 0 {
		return ""
	}
	var seen []string
	depth, atName := 0, true
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			end := stringEnd(data, i)
			if depth == 0 && atName {
				var name string
				if json.Unmarshal(data[i:end], &name) == nil {
					for _, s := range seen {
						if strings.EqualFold(s, name) {
							return name
						}
					}
					seen = append(seen, name)
				}
				atName = false
			}
			i = end - 1
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return "" // the end of the top-level object
			}
			depth--
		case c == ',' && depth == 0:
			atName = true
		}
	}
	return ""
}

// stringEnd returns the offset just past the JSON string that starts with
// the quote at data[start]. A quote ends the string unless an odd number
// of backslashes precedes it; IndexByte makes a long string (a PNG in
// base64) cost one fast scan.
func stringEnd(data []byte, start int) int {
	for j := start + 1; j < len(data); j++ {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			break
		}
		j += k
		backslashes := 0
		for b := j - 1; b > start && data[b] == '\\'; b-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j + 1
		}
	}
	return len(data)
}
