package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/infer"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/train"
	"github.com/stratusml/stratus/store"
)

const modelsUsage = `usage: stratus models COMMAND [flags]

  list                  the models registered in the store, the active one marked
  register --model FILE add a model file to the registry (--activate: and serve it)
  activate ID           make a registered model the active one: the streaming
                        pipeline serves it within seconds, without a restart
  show [--model M]      a model's header (architecture, training, metrics, sha256)
  eval [--model M]      a model's accuracy on the 10,000 MNIST test images

M is a model file or a model id (the shipped model's, or one registered in the
store given by --couchdb). Run stratus models COMMAND --help for the flags.
`

func runModels(ctx context.Context, env *environment, args []string) error {
	f, err := parseModelsFlags(env, args)
	if err != nil {
		return err
	}
	switch f.sub {
	case "list", "register", "activate":
		return runModelsRegistry(ctx, env, f)
	}
	m, err := loadModel(ctx, f.model, f.couch, f.prefix)
	if err != nil {
		return err
	}
	if f.sub == "show" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m.Header)
	}
	return evalModel(env, m, f.model, f.mnistDir, f.reference, f.record)
}

// modelsFlags are a `models` command and its flags.
type modelsFlags struct {
	sub                                 string
	args                                []string // after the flags
	couch, prefix, model, mnistDir      string
	reference, record, activate, asJSON bool
}

// parseModelsFlags parses a `models` command and its flags.
func parseModelsFlags(env *environment, args []string) (*modelsFlags, error) {
	subs := map[string]bool{"list": true, "register": true, "activate": true, "show": true, "eval": true}
	if len(args) == 0 || !subs[args[0]] {
		fmt.Fprint(env.stderr, modelsUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil, flag.ErrHelp
		}
		return nil, fmt.Errorf("%w: want a command: list, register, activate, show or eval", errUsage)
	}
	f := &modelsFlags{sub: args[0]}
	fs := flag.NewFlagSet("models "+f.sub, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.StringVar(&f.couch, "couchdb", "", "store URL with the model registry: http://user:pass@host:5984 (CouchDB)")
	fs.StringVar(&f.prefix, "db-prefix", "", "prefix of the database names")
	fs.StringVar(&f.model, "model", "", "model file or id (default: the model shipped in the binary)")
	fs.BoolVar(&f.reference, "reference", false, "eval: also run the gorgonia reference graph and compare")
	fs.BoolVar(&f.record, "record", false, "eval: write the measured accuracy into the model file")
	fs.StringVar(&f.mnistDir, "mnist-dir", "", "folder of the MNIST idx .gz files (default: the Go module cache)")
	fs.BoolVar(&f.activate, "activate", false, "register: also make the model the active one")
	fs.BoolVar(&f.asJSON, "json", false, "list: one JSON document per line instead of a table")
	synopsis := map[string]string{
		"list": "stratus models list --couchdb URL [--json]", "register": "stratus models register --couchdb URL --model FILE [--activate]",
		"activate": "stratus models activate --couchdb URL ID", "show": "stratus models show [--model FILE|ID]",
		"eval": "stratus models eval [--model FILE|ID] [--reference] [--record]",
	}[f.sub]
	fs.Usage = flagenv.Usage(fs, synopsis, strings.TrimSpace(modelsUsage[strings.Index(modelsUsage, "\n\n")+2:]))
	if err := flagenv.Parse(fs, args[1:], env.getenv); err != nil {
		return nil, usageErr(err)
	}
	f.args = fs.Args()
	return f, nil
}

// runModelsRegistry runs the commands on the store's registry: list,
// register and activate.
func runModelsRegistry(ctx context.Context, env *environment, f *modelsFlags) error {
	needStore := func() (store.Store, error) {
		if f.couch == "" {
			return nil, fmt.Errorf("%w: models %s needs the store: --couchdb URL (or STRATUS_COUCHDB)", errUsage, f.sub)
		}
		return openStore(ctx, f.couch, f.prefix)
	}
	switch f.sub {
	case "list":
		st, err := needStore()
		if err != nil {
			return err
		}
		defer st.Close()
		return listModels(ctx, env, st, f.asJSON)
	case "register":
		if f.model == "" {
			return fmt.Errorf("%w: models register needs --model FILE", errUsage)
		}
		file, err := os.ReadFile(f.model)
		if err != nil {
			return err
		}
		st, err := needStore()
		if err != nil {
			return err
		}
		defer st.Close()
		return registerModel(ctx, env, st, file, f.activate)
	}
	if len(f.args) != 1 {
		return fmt.Errorf("%w: models activate needs one model id", errUsage)
	}
	st, err := needStore()
	if err != nil {
		return err
	}
	defer st.Close()
	id := f.args[0]
	if err := st.ActivateModel(ctx, id, time.Time{}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "model %s is now the active model\n", id)
	return nil
}

func listModels(ctx context.Context, env *environment, st store.Store, asJSON bool) error {
	all, err := st.ListModels(ctx)
	if err != nil {
		return err
	}
	active, hasActive := store.ActiveOf(all)
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		for _, m := range all {
			m.Active = hasActive && m.ID == active.ID
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	}
	if len(all) == 0 {
		def, _ := model.Default()
		fmt.Fprintf(env.stdout, "no models registered: the shipped model %s is served\n", def.ID)
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTIVE\tID\tARCH\tMNIST TEST ACC\tEPOCHS\tCREATED\tREGISTERED")
	for _, m := range all {
		mark := ""
		if hasActive && m.ID == active.ID {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%d\t%s\t%s\n", mark, m.ID, m.Arch, m.Metrics.MNISTTestAccuracy, m.Train.Epochs,
			m.CreatedAt.Format(time.DateTime), m.RegisteredAt.Format(time.DateTime))
	}
	if !hasActive {
		def, _ := model.Default()
		fmt.Fprintf(tw, "\nno model is active: the shipped model %s is served\n", def.ID)
	}
	return tw.Flush()
}

func registerModel(ctx context.Context, env *environment, st store.Store, file []byte, activate bool) error {
	info, err := st.PutModel(ctx, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "model %s registered (MNIST test accuracy %.4f, sha256 %s)\n", info.ID, info.Metrics.MNISTTestAccuracy, info.SHA256)
	if activate {
		if err := st.ActivateModel(ctx, info.ID, time.Time{}); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "model %s is now the active model\n", info.ID)
	}
	return nil
}

func evalModel(env *environment, m *model.Model, ref, mnistDir string, reference, record bool) error {
	test, err := mnist.Test(mnistDir)
	if err != nil {
		return err
	}
	net, err := infer.New(m)
	if err != nil {
		return err
	}
	x := make([]float32, test.Len()*model.Pixels)
	for i := range test.Images {
		net.Normalize(test.Images[i][:], x[i*model.Pixels:(i+1)*model.Pixels])
	}
	logits := make([]float32, test.Len()*model.Classes)
	start := time.Now()
	net.Logits(x, test.Len(), logits)
	took := time.Since(start)
	correct := 0
	for i, l := range test.Labels {
		if model.Argmax(logits[i*model.Classes:(i+1)*model.Classes]) == int(l) {
			correct++
		}
	}
	acc := float64(correct) / float64(test.Len())
	fmt.Fprintf(env.stdout, "model %s\nMNIST test accuracy %.4f (%d/%d correct, %d errors); recorded in the file: %.4f\nfast path: %s for %d digits (%.0f digits/s, %d workers, %s kernels)\n",
		m.ID, acc, correct, test.Len(), test.Len()-correct, m.Metrics.MNISTTestAccuracy, took.Round(time.Millisecond), test.Len(), float64(test.Len())/took.Seconds(), net.Workers(), net.Kernels())
	if reference {
		racc, _, err := train.Evaluate(m, test)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "gorgonia reference graph: accuracy %.4f\n", racc)
		if racc != acc {
			return fmt.Errorf("fast path (%.4f) and gorgonia (%.4f) disagree", acc, racc)
		}
	}
	if record {
		if _, err := os.Stat(ref); ref == "" || err != nil {
			return fmt.Errorf("%w: --record needs --model FILE (the shipped and registered models are read-only)", errUsage)
		}
		m.Metrics.MNISTTestAccuracy = acc
		if err := m.Save(ref); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "recorded accuracy %.4f in %s\n", acc, ref)
	}
	return nil
}
