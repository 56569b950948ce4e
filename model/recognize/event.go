package recognize

import (
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/preprocess"
)

// EventDigits preprocesses the drawing of ev into network inputs for its
// mode: its PNG, decoded within lim, or its strokes.
func EventDigits(ev *message.CanvasEvent, lim drawing.Limits) ([]preprocess.Digit, error) {
	if len(ev.ImagePNG) > 0 {
		img, err := preprocess.DecodePNG(ev.ImagePNG, lim)
		if err != nil {
			return nil, err
		}
		return Digits(img, ev.Mode)
	}
	return StrokeDigits(ev.Strokes, ev.Width, ev.Height, ev.Mode)
}

// NewPrediction shapes a recognition result as the Prediction for ev.
func NewPrediction(ev *message.CanvasEvent, r Result, receivedAt, predictedAt time.Time) message.Prediction {
	return message.Prediction{
		V: message.Version, ID: ev.ID, Rev: ev.Rev, Session: ev.Session, Digits: r.Digits, Candidates: r.Candidates,
		Confidence: r.Confidence, Model: r.Model, ReceivedAt: receivedAt.UTC(), PredictedAt: predictedAt.UTC(),
	}
}
