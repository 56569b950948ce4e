package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratusml/stratus/drawing"
)

// TimeLayout is how documents write times: UTC, always three fractional
// digits, so that times sort as strings (in CouchDB's collation too).
// Variable-width RFC 3339 does not: "10:00:00.1Z" sorts after
// "10:00:00.123Z".
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t in TimeLayout (zero: "").
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// docTime is a time in TimeLayout; it reads any RFC 3339 time.
type docTime time.Time

func (t docTime) IsZero() bool { return time.Time(t).IsZero() }

func (t docTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + FormatTime(time.Time(t)) + `"`), nil
}

func (t *docTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" || string(b) == `""` {
		*t = docTime{}
		return nil
	}
	var tt time.Time
	if err := tt.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = docTime(tt.UTC())
	return nil
}

// document is the stored form of a Sample (docs/contracts.md, Samples documents).
type document struct {
	ID          string                 `json:"_id"`
	Type        string                 `json:"type"`
	Session     string                 `json:"session,omitempty"`
	Mode        drawing.Mode           `json:"mode,omitempty"`
	Width       int                    `json:"width,omitempty"`
	Height      int                    `json:"height,omitempty"`
	Strokes     []drawing.Stroke       `json:"strokes,omitempty"`
	ImagePNG    []byte                 `json:"image_png,omitempty"`
	Input28     [][]byte               `json:"input28,omitempty"`
	CreatedAt   docTime                `json:"created_at,omitzero"`
	Predictions map[string]docPredBody `json:"predictions,omitempty"`
	Label       string                 `json:"label,omitempty"`
	LabelledAt  docTime                `json:"labelled_at,omitzero"`
}

type docPredBody struct {
	Digits      string              `json:"digits"`
	Candidates  []drawing.Candidate `json:"candidates"`
	Confidence  float64             `json:"confidence"`
	Model       string              `json:"model"`
	ReceivedAt  docTime             `json:"received_at,omitzero"`
	PredictedAt docTime             `json:"predicted_at,omitzero"`
}

// DocumentFields are the top-level fields MarshalDocument writes (a
// backend keeps any other field of a stored document as it is).
var DocumentFields = []string{
	"_id", "type", "session", "mode", "width", "height", "strokes", "image_png", "input28",
	"created_at", "predictions", "label", "labelled_at",
}

// MarshalDocument writes s as a samples document: "type":"sample", times
// in TimeLayout. It writes no _rev.
func MarshalDocument(s *Sample) ([]byte, error) {
	d := document{
		ID: s.ID, Type: TypeSample, Session: s.Session, Mode: s.Mode, Width: s.Width, Height: s.Height,
		Strokes: s.Strokes, ImagePNG: s.ImagePNG, Input28: s.Input28,
		CreatedAt: docTime(s.CreatedAt), Label: s.Label, LabelledAt: docTime(s.LabelledAt),
	}
	if len(s.Predictions) > 0 {
		d.Predictions = make(map[string]docPredBody, len(s.Predictions))
		for k, p := range s.Predictions {
			d.Predictions[k] = docPredBody{
				Digits: p.Digits, Candidates: p.Candidates, Confidence: p.Confidence, Model: p.Model,
				ReceivedAt: docTime(p.ReceivedAt), PredictedAt: docTime(p.PredictedAt),
			}
		}
	}
	return json.Marshal(&d)
}

// UnmarshalDocument reads a samples document (other fields, _rev
// included, are ignored).
func UnmarshalDocument(data []byte) (Sample, error) {
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return Sample{}, fmt.Errorf("store: samples document: %w", err)
	}
	return d.sample(), nil
}

// UnmarshalSummary reads a samples document without its drawing (strokes,
// image_png): what a page of ListSamples holds unless it asks for the
// drawing. The drawing's bytes are stepped over, never decoded, so a
// large picture costs no memory.
func UnmarshalSummary(data []byte) (Sample, error) {
	var d summary
	if err := json.Unmarshal(data, &d); err != nil {
		return Sample{}, fmt.Errorf("store: samples document: %w", err)
	}
	return d.sample(), nil
}

// Decode reads a stored document of a page q asked for: the whole sample
// when q.Drawing is set, its summary (UnmarshalSummary) otherwise.
func (q ListQuery) Decode(doc []byte) (Sample, error) {
	if q.Drawing {
		return UnmarshalDocument(doc)
	}
	return UnmarshalSummary(doc)
}

// summary is a document whose drawing fields are skipped: its own strokes
// and image_png, one level up, hide the embedded document's from
// encoding/json.
type summary struct {
	document
	Strokes  skipped `json:"strokes"`
	ImagePNG skipped `json:"image_png"`
}

// skipped is a JSON value that is read past and dropped.
type skipped struct{}

// UnmarshalJSON drops b; encoding/json has checked it already.
func (*skipped) UnmarshalJSON([]byte) error { return nil }

// sample converts the stored form to a Sample.
func (d *document) sample() Sample {
	s := Sample{
		ID: d.ID, Session: d.Session, Mode: d.Mode, Width: d.Width, Height: d.Height,
		Strokes: d.Strokes, ImagePNG: d.ImagePNG, Input28: d.Input28,
		CreatedAt: time.Time(d.CreatedAt), Label: d.Label, LabelledAt: time.Time(d.LabelledAt),
	}
	if len(d.Predictions) > 0 {
		s.Predictions = make(map[string]PredictionBody, len(d.Predictions))
		for k, p := range d.Predictions {
			s.Predictions[k] = PredictionBody{
				Digits: p.Digits, Candidates: p.Candidates, Confidence: p.Confidence, Model: p.Model,
				ReceivedAt: time.Time(p.ReceivedAt), PredictedAt: time.Time(p.PredictedAt),
			}
		}
	}
	return s
}
