package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stratusml/stratus/model"
)

// The model registry: the models database of docs/contracts.md.
//
// A model document is the model file's header (architecture, training
// settings, metrics, the weights' sha256) with "type":"model" and the
// registry's own fields (registered_at, active, activated_at), and the model
// file itself (the weights, self-checking) as the attachment ModelAttachment.
// The document's sha256 is the one the file records for its weights and
// checks on every load; file_sha256 is the sha256 of the attachment's bytes.
//
// Exactly one model is active at a time in effect: the one with active true
// and the latest activated_at (ties: the greatest id). ActivateModel sets
// the new one active before it clears the others, so a crash between the two
// steps leaves the newly activated model in effect.
//
// Re-scoring summaries (RescoreSummary) are documents of the same database
// with "type":"rescore" and ids "rescore:<model id>:<run id>"; they never
// show up as models.

// Types of the models database's documents.
const (
	TypeModel   = "model"
	TypeRescore = "rescore"
)

// ModelAttachment is the name of a model document's attachment: the model
// file (model.Encode's bytes).
const ModelAttachment = "model.stratus"

// ModelContentType is the attachment's content type.
const ModelContentType = "application/vnd.stratus.model"

// RescorePrefix starts the id of every rescore summary document.
const RescorePrefix = "rescore:"

// Registry is the model registry part of Store.
type Registry interface {
	// PutModel registers a model file (model.Encode's bytes): it checks the
	// file (checksums, architecture) and stores its document and the file.
	// Idempotent: registering the same model again changes nothing (its
	// active flag included) and returns the stored document.
	PutModel(ctx context.Context, file []byte) (ModelInfo, error)
	// GetModel reads a model's document; ErrNotFound when there is none.
	GetModel(ctx context.Context, id string) (ModelInfo, error)
	// ModelFile reads a model's file (the attachment), unchecked: use
	// LoadModel to get a checked *model.Model.
	ModelFile(ctx context.Context, id string) ([]byte, error)
	// ListModels returns every model, oldest registration first (ties by
	// id).
	ListModels(ctx context.Context) ([]ModelInfo, error)
	// ActivateModel makes id the active model from at (zero: now) and
	// clears the active flag of the others; ErrNotFound when there is no
	// such model.
	ActivateModel(ctx context.Context, id string, at time.Time) error
	// ActiveModel returns the active model (see ActiveOf); ErrNotFound
	// when none is.
	ActiveModel(ctx context.Context) (ModelInfo, error)
	// PutRescore stores a re-scoring summary under sum.ID (RescoreID),
	// replacing one of the same id.
	PutRescore(ctx context.Context, sum RescoreSummary) error
	// GetRescore reads a summary; ErrNotFound when there is none.
	GetRescore(ctx context.Context, id string) (RescoreSummary, error)
	// ListRescores returns the summaries of a model ("" : of every model),
	// oldest first.
	ListRescores(ctx context.Context, modelID string) ([]RescoreSummary, error)
}

// ModelInfo is a model document without its file.
type ModelInfo struct {
	ID        string          `json:"_id"`
	Arch      string          `json:"arch"`
	CreatedAt time.Time       `json:"created_at"`
	Train     model.TrainInfo `json:"train"`
	Metrics   model.Metrics   `json:"metrics"`
	// SHA256 is the hex sha256 of the weights, as the model file records
	// (and checks) it; the id is derived from it.
	SHA256 string `json:"sha256"`
	// FileSHA256 and FileSize describe the attachment (the model file).
	FileSHA256 string `json:"file_sha256"`
	FileSize   int    `json:"file_size"`
	// RegisteredAt is when PutModel first stored the model.
	RegisteredAt time.Time `json:"registered_at"`
	// Active and ActivatedAt: see ActiveOf.
	Active      bool      `json:"active"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
}

// NewModelInfo checks a model file and describes it (RegisteredAt, Active
// and ActivatedAt left zero). The error wraps ErrInvalid.
func NewModelInfo(file []byte) (ModelInfo, *model.Model, error) {
	m, err := model.DecodeBytes(file)
	if err != nil {
		return ModelInfo{}, nil, fmt.Errorf("%w: model file: %w", ErrInvalid, err)
	}
	if err := ValidateModelID(m.ID); err != nil {
		return ModelInfo{}, nil, err
	}
	if want := m.Arch + "-" + m.SHA256[:12]; m.ID != want {
		return ModelInfo{}, nil, fmt.Errorf("%w: model file names itself %q, its weights make it %q", ErrInvalid, m.ID, want)
	}
	sum := sha256.Sum256(file)
	return ModelInfo{
		ID: m.ID, Arch: m.Arch, CreatedAt: TruncTime(m.CreatedAt), Train: m.Train, Metrics: m.Metrics,
		SHA256: m.SHA256, FileSHA256: hex.EncodeToString(sum[:]), FileSize: len(file),
	}, m, nil
}

// ValidateModelID checks a model id: 1 to 128 bytes of ASCII letters,
// digits, '-', '_' and '.', not starting with '_' or the rescore prefix.
func ValidateModelID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: model id must be 1 to 128 bytes", ErrInvalid)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: model id %q: only letters, digits, '-', '_' and '.'", ErrInvalid, id)
		}
	}
	if id[0] == '_' {
		return fmt.Errorf("%w: model id %q starts with _", ErrInvalid, id)
	}
	return nil
}

// ActiveOf picks the active model of a registry's documents: active set,
// latest activated_at, then greatest id. It reports false when none is.
func ActiveOf(models []ModelInfo) (ModelInfo, bool) {
	var best ModelInfo
	found := false
	for _, m := range models {
		if !m.Active {
			continue
		}
		if !found || m.ActivatedAt.After(best.ActivatedAt) || (m.ActivatedAt.Equal(best.ActivatedAt) && m.ID > best.ID) {
			best, found = m, true
		}
	}
	return best, found
}

// SortModels orders models as ListModels returns them.
func SortModels(models []ModelInfo) {
	slices.SortFunc(models, func(a, b ModelInfo) int {
		if c := a.RegisteredAt.Compare(b.RegisteredAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// modelDoc is the stored form of a ModelInfo (times in TimeLayout).
type modelDoc struct {
	ID           string          `json:"_id"`
	Type         string          `json:"type"`
	Arch         string          `json:"arch"`
	CreatedAt    docTime         `json:"created_at,omitzero"`
	Train        model.TrainInfo `json:"train"`
	Metrics      model.Metrics   `json:"metrics"`
	SHA256       string          `json:"sha256"`
	FileSHA256   string          `json:"file_sha256"`
	FileSize     int             `json:"file_size"`
	RegisteredAt docTime         `json:"registered_at,omitzero"`
	Active       bool            `json:"active"`
	ActivatedAt  docTime         `json:"activated_at,omitzero"`
}

// ModelDocumentFields are the top-level fields MarshalModelDocument writes
// (a backend keeps the others, _rev and _attachments among them).
var ModelDocumentFields = []string{
	"_id", "type", "arch", "created_at", "train", "metrics", "sha256", "file_sha256", "file_size",
	"registered_at", "active", "activated_at",
}

// MarshalModelDocument writes m as a models document ("type":"model"),
// without _rev or _attachments.
func MarshalModelDocument(m *ModelInfo) ([]byte, error) {
	return json.Marshal(&modelDoc{
		ID: m.ID, Type: TypeModel, Arch: m.Arch, CreatedAt: docTime(m.CreatedAt), Train: m.Train, Metrics: m.Metrics,
		SHA256: m.SHA256, FileSHA256: m.FileSHA256, FileSize: m.FileSize,
		RegisteredAt: docTime(m.RegisteredAt), Active: m.Active, ActivatedAt: docTime(m.ActivatedAt),
	})
}

// UnmarshalModelDocument reads a models document of type model; other
// fields (_rev, _attachments) are ignored. ErrInvalid for another type.
func UnmarshalModelDocument(data []byte) (ModelInfo, error) {
	var d modelDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return ModelInfo{}, fmt.Errorf("%w: models document: %w", ErrInvalid, err)
	}
	if d.Type != TypeModel {
		return ModelInfo{}, fmt.Errorf("%w: document %q is of type %q, not a model", ErrInvalid, d.ID, d.Type)
	}
	return ModelInfo{
		ID: d.ID, Arch: d.Arch, CreatedAt: time.Time(d.CreatedAt), Train: d.Train, Metrics: d.Metrics,
		SHA256: d.SHA256, FileSHA256: d.FileSHA256, FileSize: d.FileSize,
		RegisteredAt: time.Time(d.RegisteredAt), Active: d.Active, ActivatedAt: time.Time(d.ActivatedAt),
	}, nil
}

// LoadModel reads a registered model and checks it: the file's own
// checksums, and that its id and weights' sha256 are the document's.
func LoadModel(ctx context.Context, r Registry, id string) (*model.Model, error) {
	info, err := r.GetModel(ctx, id)
	if err != nil {
		return nil, err
	}
	file, err := r.ModelFile(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := model.DecodeBytes(file)
	if err != nil {
		return nil, fmt.Errorf("store: model %s: %w", id, err)
	}
	if m.ID != info.ID || m.SHA256 != info.SHA256 {
		return nil, fmt.Errorf("store: model %s: the stored file is model %s (weights sha256 %s), the document says sha256 %s: %w",
			id, m.ID, m.SHA256, info.SHA256, model.ErrChecksum)
	}
	return m, nil
}

// ---- rescore summaries ---------------------------------------------------

// Classes is the number of digit classes (the confusion matrix's side).
const Classes = model.Classes

// RescoreSummary is what a re-scoring run of one model over stored samples
// found; it is stored in the models database.
type RescoreSummary struct {
	// ID is RescoreID(Model, RunID).
	ID    string `json:"_id"`
	Model string `json:"model"`
	RunID string `json:"run_id"`
	// Runner the pipeline ran on.
	Runner string `json:"runner,omitempty"`
	// The read's filters.
	OnlyLabelled bool      `json:"only_labelled,omitempty"`
	Since        time.Time `json:"since,omitzero"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`

	// Scored is the number of samples the model answered; Written of
	// those, the ones whose stored prediction was new or different (the
	// others already had this answer: a second run writes none).
	Scored  int64 `json:"scored"`
	Written int64 `json:"written"`
	// Failed counts samples that could not be scored (no network input,
	// inference failure) or whose write failed after retries.
	Failed int64 `json:"failed"`

	// Labelled samples, and those whose answer equals the user's label;
	// Accuracy = Correct / Labelled (0 when none is labelled).
	Labelled int64   `json:"labelled"`
	Correct  int64   `json:"correct"`
	Accuracy float64 `json:"accuracy"`

	// Compared counts samples with an answer of the model previously
	// served to the user (see PreviousPrediction); Changed those whose
	// answer this model changes; ChangedFrom splits Changed by that
	// previous model.
	Compared    int64            `json:"compared"`
	Changed     int64            `json:"changed"`
	ChangedFrom map[string]int64 `json:"changed_from,omitempty"`

	// Confusion[label][answer] counts the digits of labelled samples whose
	// answer has as many digits as the label, position by position.
	Confusion [Classes][Classes]int64 `json:"confusion"`
	// LengthMismatch counts labelled samples whose answer has a different
	// number of digits than the label (not in Confusion).
	LengthMismatch int64 `json:"length_mismatch,omitempty"`
}

// RescoreID is the document id of a run's summary.
func RescoreID(modelID, runID string) string { return RescorePrefix + modelID + ":" + runID }

// Finish computes Accuracy.
func (r *RescoreSummary) Finish() {
	r.Accuracy = 0
	if r.Labelled > 0 {
		r.Accuracy = float64(r.Correct) / float64(r.Labelled)
	}
}

// Add adds the counts of o into r (Model, RunID and times are r's).
func (r *RescoreSummary) Add(o *RescoreSummary) {
	r.Scored += o.Scored
	r.Written += o.Written
	r.Failed += o.Failed
	r.Labelled += o.Labelled
	r.Correct += o.Correct
	r.Compared += o.Compared
	r.Changed += o.Changed
	for k, v := range o.ChangedFrom {
		if r.ChangedFrom == nil {
			r.ChangedFrom = map[string]int64{}
		}
		r.ChangedFrom[k] += v
	}
	for i := range r.Confusion {
		for j := range r.Confusion[i] {
			r.Confusion[i][j] += o.Confusion[i][j]
		}
	}
	r.LengthMismatch += o.LengthMismatch
	r.Finish()
}

// rescoreDoc is the stored form of a RescoreSummary.
type rescoreDoc struct {
	Type string `json:"type"`
	rescoreAlias
	Since      docTime `json:"since,omitzero"`
	StartedAt  docTime `json:"started_at,omitzero"`
	FinishedAt docTime `json:"finished_at,omitzero"`
}

type rescoreAlias RescoreSummary

// MarshalRescoreDocument writes sum as a models-database document of type
// rescore.
func MarshalRescoreDocument(sum *RescoreSummary) ([]byte, error) {
	if !strings.HasPrefix(sum.ID, RescorePrefix) {
		return nil, fmt.Errorf("%w: rescore summary id %q must start with %q", ErrInvalid, sum.ID, RescorePrefix)
	}
	d := rescoreDoc{Type: TypeRescore, rescoreAlias: rescoreAlias(*sum),
		Since: docTime(sum.Since), StartedAt: docTime(sum.StartedAt), FinishedAt: docTime(sum.FinishedAt)}
	return json.Marshal(&d)
}

// UnmarshalRescoreDocument reads a rescore document; ErrInvalid for another
// type.
func UnmarshalRescoreDocument(data []byte) (RescoreSummary, error) {
	var d rescoreDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return RescoreSummary{}, fmt.Errorf("%w: rescore document: %w", ErrInvalid, err)
	}
	if d.Type != TypeRescore {
		return RescoreSummary{}, fmt.Errorf("%w: document %q is of type %q, not a rescore summary", ErrInvalid, d.ID, d.Type)
	}
	s := RescoreSummary(d.rescoreAlias)
	s.Since, s.StartedAt, s.FinishedAt = time.Time(d.Since), time.Time(d.StartedAt), time.Time(d.FinishedAt)
	return s, nil
}

// SortRescores orders summaries as ListRescores returns them: by
// started_at, then id.
func SortRescores(sums []RescoreSummary) {
	slices.SortFunc(sums, func(a, b RescoreSummary) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// ---- predictions of a sample ---------------------------------------------

// PreviousPrediction returns the prediction of s that the user was served
// before re-scoring with model except: the earliest (by predicted_at, then
// model id) of those with a received_at (made by the streaming pipeline,
// which records when the event arrived); failing any, the earliest of the
// other models' predictions. It reports false when there is none.
func PreviousPrediction(s *Sample, except string) (PredictionBody, bool) {
	var best PredictionBody
	bestServed, found := false, false
	for id, p := range s.Predictions {
		served := !p.ReceivedAt.IsZero()
		if !served && id == except {
			continue
		}
		if p.Model == "" {
			p.Model = id
		}
		better := !found ||
			(served && !bestServed) ||
			(served == bestServed && (p.PredictedAt.Before(best.PredictedAt) ||
				(p.PredictedAt.Equal(best.PredictedAt) && p.Model < best.Model)))
		if better {
			best, bestServed, found = p, served, true
		}
	}
	return best, found
}
