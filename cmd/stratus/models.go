package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/infer"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/train"
)

func runModels(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "eval") {
		fmt.Fprint(env.stderr, "usage: stratus models show|eval [--model FILE]\n\n  show  print a model file's header (architecture, training, metrics, sha256)\n  eval  measure a model's accuracy on the 10,000 MNIST test images\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return fmt.Errorf("%w: want a subcommand: show or eval", errUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("models "+sub, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	modelFlag := fs.String("model", "", "model file or id (default: the model shipped in the binary)")
	reference := fs.Bool("reference", false, "eval: also run the gorgonia reference graph and compare")
	record := fs.Bool("record", false, "eval: write the measured accuracy into the model file")
	mnistDir := fs.String("mnist-dir", "", "folder of the MNIST idx .gz files (default: the Go module cache)")
	fs.Usage = flagenv.Usage(fs, "stratus models "+sub+" [flags]", "show: print the header; eval: accuracy on MNIST test.")
	if err := flagenv.Parse(fs, args[1:], env.getenv); err != nil {
		return usageErr(err)
	}
	m, err := loadModel(*modelFlag)
	if err != nil {
		return err
	}
	if sub == "show" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m.Header)
	}

	test, err := mnist.Test(*mnistDir)
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
	if *reference {
		racc, _, err := train.Evaluate(m, test)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "gorgonia reference graph: accuracy %.4f\n", racc)
		if racc != acc {
			return fmt.Errorf("fast path (%.4f) and gorgonia (%.4f) disagree", acc, racc)
		}
	}
	if *record {
		if *modelFlag == "" {
			return fmt.Errorf("%w: --record needs --model FILE (the shipped model is read-only)", errUsage)
		}
		m.Metrics.MNISTTestAccuracy = acc
		if err := m.Save(*modelFlag); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "recorded accuracy %.4f in %s\n", acc, *modelFlag)
	}
	return nil
}
