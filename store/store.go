// Package store is the storage API of Stratus: the samples of docs/contracts.md
// behind a small interface with swappable backends, in the way kivik splits
// its client from its drivers.
//
// A backend registers itself under URL schemes (the CouchDB backend,
// store/couchdb, under http and https) and Open picks it by the scheme of a
// URL:
//
//	import _ "github.com/stratusml/stratus/store/couchdb"
//
//	st, err := store.Open(ctx, "http://user:pass@127.0.0.1:5984", store.Options{})
//
// Every backend honours the same contract, which store/storetest checks:
//
//   - UpsertSamples is idempotent by id: a replay never makes a second
//     document; predictions are merged by model id (a new model's prediction
//     is added, the same model's is replaced); a label a user set is never
//     dropped; created_at keeps its first value. Merge is the rule.
//   - Times are kept in UTC to the millisecond.
//   - Ids order as byte strings (ULIDs sort by time, UUIDs do not);
//     ScanSamples reads [start, end) in that order.
//   - ListSamples is newest first by created_at (ties by id, descending,
//     in byte order; on CouchDB, ids whose first difference is in letter
//     case may follow its Unicode collation instead), and reads only the
//     page it returns through an index of that order: its cost does not
//     grow with the number of stored samples. Following Before from page
//     to page gives every sample once.
//
// Errors wrap ErrNotFound, ErrInvalid or ErrConflict where they apply, and
// never carry credentials.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model"
)

// Database names (before Options.Prefix).
const (
	SamplesDB = "samples"
	ModelsDB  = "models"
)

// TypeSample is the "type" of a samples document.
const TypeSample = "sample"

// Input28Len is the length of one digit's network input: 28×28 bytes
// (a model/preprocess.Image28).
const Input28Len = model.Pixels

// MaxLabelLen bounds a label (the digits of a number).
const MaxLabelLen = 32

// Sample is one drawing with its predictions: the samples document of
// docs/contracts.md. The JSON tags name the document's fields; MarshalDocument
// writes the stored form.
type Sample struct {
	// ID is the event id (ULID or UUID), the document's _id.
	ID      string       `json:"_id"`
	Session string       `json:"session,omitempty"`
	Mode    drawing.Mode `json:"mode,omitempty"`
	Width   int          `json:"width,omitempty"`
	Height  int          `json:"height,omitempty"`
	// Strokes or ImagePNG: the drawing, as the CanvasEvent carried it.
	Strokes  []drawing.Stroke `json:"strokes,omitempty"`
	ImagePNG []byte           `json:"image_png,omitempty"`
	// Input28 holds the network input of each digit, left to right:
	// Input28Len bytes each (base64 strings in JSON).
	Input28 [][]byte `json:"input28,omitempty"`
	// CreatedAt is when the sample was first stored; it never changes once
	// set. Zero on a new sample means now.
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Predictions by model id.
	Predictions map[string]PredictionBody `json:"predictions,omitempty"`
	// Label is the user's correction ("7", or the digits of a number); empty
	// when none.
	Label      string    `json:"label,omitempty"`
	LabelledAt time.Time `json:"labelled_at,omitzero"`
}

// PredictionBody is a message.Prediction without its envelope (v, id,
// session): what a samples document keeps per model.
type PredictionBody struct {
	Digits      string              `json:"digits"`
	Candidates  []drawing.Candidate `json:"candidates"`
	Confidence  float64             `json:"confidence"`
	Model       string              `json:"model"`
	ReceivedAt  time.Time           `json:"received_at,omitzero"`
	PredictedAt time.Time           `json:"predicted_at,omitzero"`
}

// NewPredictionBody keeps what a document stores of p.
func NewPredictionBody(p message.Prediction) PredictionBody {
	return PredictionBody{
		Digits: p.Digits, Candidates: p.Candidates, Confidence: p.Confidence, Model: p.Model,
		ReceivedAt: p.ReceivedAt, PredictedAt: p.PredictedAt,
	}
}

// Prediction rebuilds the message for the sample's id and session.
func (b PredictionBody) Prediction(id, session string) message.Prediction {
	return message.Prediction{
		V: message.Version, ID: id, Session: session, Digits: b.Digits, Candidates: b.Candidates,
		Confidence: b.Confidence, Model: b.Model, ReceivedAt: b.ReceivedAt, PredictedAt: b.PredictedAt,
	}
}

// NewSample starts the sample of an event: its drawing and envelope, no
// predictions yet.
func NewSample(e *message.CanvasEvent) Sample {
	return Sample{
		ID: e.ID, Session: e.Session, Mode: e.Mode, Width: e.Width, Height: e.Height,
		Strokes: e.Strokes, ImagePNG: e.ImagePNG,
	}
}

// Images28 returns the sample's network inputs as images (for re-scoring
// or training); ErrInvalid when one has the wrong length.
func (s *Sample) Images28() ([][Input28Len]byte, error) {
	out := make([][Input28Len]byte, len(s.Input28))
	for i, in := range s.Input28 {
		if len(in) != Input28Len {
			return nil, fmt.Errorf("%w: sample %s: input28[%d] is %d bytes, want %d", ErrInvalid, s.ID, i, len(in), Input28Len)
		}
		copy(out[i][:], in)
	}
	return out, nil
}

// Store is the storage API. Implementations are safe for concurrent use.
type Store interface {
	// EnsureSchema creates the samples and models databases and the indexes
	// on created_at and label; it is idempotent.
	EnsureSchema(ctx context.Context) error
	// UpsertSamples writes samples by id, merging each into the stored one
	// by Merge. A failure is an *UpsertError that lists exactly the samples
	// not written (the others were); a retry of those is safe.
	UpsertSamples(ctx context.Context, samples []Sample) error
	// GetSample reads one sample; ErrNotFound when there is none.
	GetSample(ctx context.Context, id string) (Sample, error)
	// SetLabel sets the user's label of a sample (ErrNotFound when there is
	// no such sample, ErrInvalid for a bad label); zero at means now.
	SetLabel(ctx context.Context, id, label string, at time.Time) error
	// ListSamples returns one page of samples, newest first (created_at
	// descending, then id descending), as q asks; ErrNotFound when
	// q.Before names no sample. It reads the page through an index, never
	// the whole store.
	ListSamples(ctx context.Context, q ListQuery) ([]Sample, error)
	// ScanSamples calls fn for each sample whose id is in [start, end), in
	// id order, reading in pages; an empty start or end leaves that side
	// open. fn returning ErrStopScan ends the scan without error; any other
	// error ends it with that error.
	ScanSamples(ctx context.Context, start, end string, fn func(Sample) error) error
	// IDRange returns the smallest and the largest sample id in
	// [start, end) (empty: open); ErrNotFound when there is none.
	IDRange(ctx context.Context, start, end string) (first, last string, err error)
	// Count returns the number of samples.
	Count(ctx context.Context) (int, error)
	// Registry is the models database: registered models, the active
	// one, re-scoring summaries (models.go).
	Registry
	// Close releases the backend's resources.
	Close() error
}

// ListQuery asks ListSamples for one page of samples. It is a struct so
// that a filter (the samples of one session) can join it without
// changing every caller; a backend keeps an index for each order it lists
// in.
type ListQuery struct {
	// Limit is the most samples the page holds; none when 0 or less.
	Limit int
	// Before is the id of the last sample of the previous page: the page
	// starts right after it. Empty: the page starts with the newest.
	Before string
	// Drawing asks for each sample's drawing (strokes or image_png) too.
	// The history does not show it and it is the largest part of a
	// document, so a page leaves it out unless asked.
	Drawing bool
}

// Errors that the errors of a Store wrap.
var (
	ErrNotFound = errors.New("store: not found")
	ErrInvalid  = errors.New("store: invalid")
	// ErrConflict: a write kept losing to concurrent writers.
	ErrConflict = errors.New("store: conflict")
	// ErrStopScan, returned by a ScanSamples callback, ends the scan early
	// without an error.
	ErrStopScan = errors.New("store: stop scan")
)

// ItemError is why one sample was not written.
type ItemError struct {
	ID  string
	Err error
}

func (e ItemError) Error() string { return fmt.Sprintf("%s: %v", e.ID, e.Err) }

// Unwrap returns the cause.
func (e ItemError) Unwrap() error { return e.Err }

// UpsertError lists the samples an UpsertSamples call did not write.
type UpsertError struct {
	Items []ItemError
}

func (e *UpsertError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "store: %d sample(s) not written", len(e.Items))
	for i, it := range e.Items {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Items)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(it.Error())
	}
	return b.String()
}

// Unwrap returns the items' causes, so that errors.Is(err, ErrInvalid)
// tells whether any sample was invalid.
func (e *UpsertError) Unwrap() []error {
	errs := make([]error, len(e.Items))
	for i, it := range e.Items {
		errs[i] = it
	}
	return errs
}

// Failed returns the ids an UpsertSamples error names with their causes,
// and false when err is not an *UpsertError (nil included).
func Failed(err error) (map[string]error, bool) {
	var ue *UpsertError
	if !errors.As(err, &ue) {
		return nil, false
	}
	m := make(map[string]error, len(ue.Items))
	for _, it := range ue.Items {
		m[it.ID] = it.Err
	}
	return m, true
}

// ValidateID checks a sample id: 1 to message.MaxIDLen bytes of UTF-8,
// not starting with "_" (reserved by CouchDB).
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty sample id", ErrInvalid)
	case len(id) > message.MaxIDLen:
		return fmt.Errorf("%w: sample id is %d bytes, the limit is %d", ErrInvalid, len(id), message.MaxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: sample id is not UTF-8", ErrInvalid)
	case id[0] == '_':
		return fmt.Errorf("%w: sample id %q starts with _", ErrInvalid, id)
	}
	return nil
}

// ValidateLabel checks a label: 1 to MaxLabelLen ASCII digits.
func ValidateLabel(label string) error {
	if label == "" || len(label) > MaxLabelLen {
		return fmt.Errorf("%w: label must be 1 to %d digits", ErrInvalid, MaxLabelLen)
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return fmt.Errorf("%w: label %q: only the digits 0-9", ErrInvalid, label)
		}
	}
	return nil
}

// Validate checks what a store relies on: the id, the mode, the size of
// each network input, the label when set, and that each prediction's model
// is its key (or empty).
func Validate(s *Sample) error {
	if err := ValidateID(s.ID); err != nil {
		return err
	}
	switch s.Mode {
	case "", drawing.ModeDigit, drawing.ModeNumber:
	default:
		return fmt.Errorf("%w: mode %q", ErrInvalid, s.Mode)
	}
	if s.Width < 0 || s.Height < 0 {
		return fmt.Errorf("%w: negative canvas size", ErrInvalid)
	}
	for i, in := range s.Input28 {
		if len(in) != Input28Len {
			return fmt.Errorf("%w: input28[%d] is %d bytes, want %d", ErrInvalid, i, len(in), Input28Len)
		}
	}
	if s.Label != "" {
		if err := ValidateLabel(s.Label); err != nil {
			return err
		}
	}
	for k, p := range s.Predictions {
		if k == "" {
			return fmt.Errorf("%w: prediction with an empty model id", ErrInvalid)
		}
		if p.Model != "" && p.Model != k {
			return fmt.Errorf("%w: prediction under %q names model %q", ErrInvalid, k, p.Model)
		}
	}
	return nil
}

// Merge returns what the store keeps when incoming is written over
// existing (the stored sample of the same id):
//
//   - drawing fields (session, mode, size, strokes | image_png, input28):
//     incoming's where it has them, else existing's (a partial sample, such
//     as an id with one new prediction, leaves the drawing alone); strokes
//     and image_png go together;
//   - created_at: existing's when set (the first write wins);
//   - predictions: the union by model id; for the same model id incoming's
//     replaces existing's;
//   - label: never dropped. Incoming's label wins only when it is set and its
//     labelled_at is not before existing's (so a replay carrying an old label
//     cannot undo a user's later correction).
//
// Neither argument is modified; the result shares no map with them.
func Merge(existing, incoming Sample) Sample {
	out := existing
	out.ID = incoming.ID
	if out.ID == "" {
		out.ID = existing.ID
	}
	if incoming.Session != "" {
		out.Session = incoming.Session
	}
	if incoming.Mode != "" {
		out.Mode = incoming.Mode
	}
	if incoming.Width != 0 || incoming.Height != 0 {
		out.Width, out.Height = incoming.Width, incoming.Height
	}
	if len(incoming.Strokes) > 0 || len(incoming.ImagePNG) > 0 {
		out.Strokes, out.ImagePNG = incoming.Strokes, incoming.ImagePNG
	}
	if len(incoming.Input28) > 0 {
		out.Input28 = incoming.Input28
	}
	if out.CreatedAt.IsZero() {
		out.CreatedAt = incoming.CreatedAt
	}
	out.Predictions = nil
	if n := len(existing.Predictions) + len(incoming.Predictions); n > 0 {
		out.Predictions = make(map[string]PredictionBody, n)
		for k, p := range existing.Predictions {
			out.Predictions[k] = p
		}
		for k, p := range incoming.Predictions {
			out.Predictions[k] = p
		}
	}
	if incoming.Label != "" && (existing.Label == "" || !incoming.LabelledAt.Before(existing.LabelledAt)) {
		out.Label, out.LabelledAt = incoming.Label, incoming.LabelledAt
	}
	return out
}

// Normalize prepares a merged sample for writing: times in UTC to the
// millisecond, created_at (and labelled_at of a label) now when unset, each
// prediction's model set to its key.
func Normalize(s *Sample, now time.Time) {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.CreatedAt = TruncTime(s.CreatedAt)
	if s.Label != "" && s.LabelledAt.IsZero() {
		s.LabelledAt = now
	}
	if s.Label == "" {
		s.LabelledAt = time.Time{}
	}
	s.LabelledAt = TruncTime(s.LabelledAt)
	for k, p := range s.Predictions {
		p.Model = k
		p.ReceivedAt = TruncTime(p.ReceivedAt)
		p.PredictedAt = TruncTime(p.PredictedAt)
		s.Predictions[k] = p
	}
}

// TruncTime is t as a store keeps it: UTC, to the millisecond (zero stays
// zero).
func TruncTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// RedactURL hides the password of a URL for messages and logs; a string
// that does not parse is hidden after any "@".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "xxxxx" + raw[i:]
		}
		return raw
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}
