package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/model/train"
	"github.com/stratusml/stratus/store"
)

func runTrain(ctx context.Context, env *environment, args []string) error {
	d := train.Defaults()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	epochs := fs.Int("epochs", d.Epochs, "passes over the training data")
	batch := fs.Int("batch-size", d.BatchSize, "images per optimiser step")
	lr := fs.Float64("learn-rate", d.LearnRate, "peak Adam learning rate (cosine schedule)")
	dropout := fs.Float64("dropout", d.Dropout, "dropout probability on the hidden layer")
	workers := fs.Int("workers", 0, "parallel gorgonia graphs (default: one per core)")
	seed := fs.Uint64("seed", d.Seed, "random seed")
	noAug := fs.Bool("no-augment", false, "train on the images as they are (no shifts, rotation, scale, thickness, elastic distortion)")
	limit := fs.Int("limit-train", 0, "train on the first N MNIST images only (smoke tests)")
	limitTest := fs.Int("limit-test", 0, "evaluate on the first N MNIST test images only")
	mnistDir := fs.String("mnist-dir", "", "folder of the MNIST idx .gz files (default: the GoMNIST module in the Go module cache)")
	ckpt := fs.String("checkpoint", "", "checkpoint file, written after every epoch and on Ctrl-C (default: OUT.ckpt)")
	resume := fs.Bool("resume", false, "continue from the checkpoint if it exists")
	out := fs.String("out", "", "model file to write (default: ./<model id>.stratus)")
	register := fs.Bool("register", false, "also register the trained model in the store's model registry (--couchdb)")
	activate := fs.Bool("activate", false, "with --register: make it the active model (served by the streaming pipeline within seconds)")
	couch := fs.String("couchdb", "", "store URL with the model registry, for --register: http://user:pass@host:5984")
	prefix := fs.String("db-prefix", "", "prefix of the database names")
	fs.Usage = flagenv.Usage(fs, "stratus train [flags]",
		"Trains the Stratus CNN with gorgonia on the 60,000 MNIST training images\n(shipped in the GoMNIST Go module: nothing is downloaded), with augmentation\nso that drawn digits are recognised. Shows progress (epoch, loss, images/s,\nETA), evaluates on the 10,000 test images and writes a versioned model file.\nCtrl-C saves a checkpoint; --resume continues from it.")
	if err := flagenv.Parse(fs, args, env.getenv); err != nil {
		return usageErr(err)
	}
	if (*register || *activate) && *couch == "" {
		return fmt.Errorf("%w: --register needs the store: --couchdb URL (or STRATUS_COUCHDB)", errUsage)
	}
	if *activate && !*register {
		return fmt.Errorf("%w: --activate goes with --register", errUsage)
	}
	var st store.Store
	if *register { // open it now: a wrong URL should not wait for the end of training
		var err error
		if st, err = openStore(ctx, *couch, *prefix); err != nil {
			return err
		}
		defer st.Close()
	}
	cfg := d
	cfg.Epochs, cfg.BatchSize, cfg.LearnRate, cfg.Dropout = *epochs, *batch, *lr, *dropout
	cfg.Workers, cfg.Seed, cfg.NoAugment = *workers, *seed, *noAug
	cfg.LimitTrain, cfg.LimitTest, cfg.MNISTDir = *limit, *limitTest, *mnistDir
	cfg.Checkpoint, cfg.Resume = *ckpt, *resume
	if cfg.Checkpoint == "" {
		base := *out
		if base == "" {
			base = "stratus-train"
		}
		cfg.Checkpoint = base + ".ckpt"
	}
	cfg.Progress = env.stderr
	cfg.ProgressEvery = 2 * time.Second
	start := time.Now()
	res, err := train.Run(ctx, cfg)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; resume with --resume --checkpoint %s", cfg.Checkpoint)
	}
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = res.Model.ID + ".stratus"
	}
	if err := res.Model.Save(path); err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	fmt.Fprintf(env.stdout, "model %s written to %s\nMNIST test accuracy %.4f (loss %.4f), trained %s on %d images\n",
		res.Model.ID, abs, res.Accuracy, res.Loss, time.Since(start).Round(time.Second), res.Model.Train.ImagesSeen)
	if st != nil {
		file, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return registerModel(ctx, env, st, file, *activate)
	}
	return nil
}
