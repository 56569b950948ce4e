// Command stratus is the one binary of Stratus: it recognises handwritten
// digits drawn on a web canvas, through Kafka, an Apache Beam pipeline and a
// CNN. Each job is a subcommand; `stratus help` lists them and
// `stratus CMD --help` describes one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is what a command may touch of the outside world; tests swap it.
type environment struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	log            *slog.Logger
}

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage error")

// errFailed marks a run that did its work but must exit non-zero (exit
// status 1), having already explained why on stderr.
var errFailed = errors.New("failed")

func commands() map[string]command {
	return map[string]command{
		"classify": {"classify PNG files or folders of them offline; one JSON line per picture", runClassify},
		"train":    {"train the CNN on MNIST with gorgonia and write a model file", runTrain},
		"models":   {"the model registry: list, register, activate, show, eval", runModels},
		"rescore":  {"re-score stored samples with a model (Beam batch: prism, flink, spark, …)", runRescore},
		"stream":   {"run the streaming pipeline (Kafka → Beam → CNN → CouchDB + replies)", runStream},
		"serve":    {"run the frontend (canvas page + HTTP API) against Kafka and CouchDB", runServe},
		"up":       {"run the whole system on this machine, embedded defaults (open the URL it prints)", runUp},
		"loadtest": {"virtual users drawing digits against a running frontend; latency and throughput", runLoadtest},
	}
}

func main() {
	env := &environment{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	env.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, env, os.Args[1:]))
}

// run dispatches to a subcommand and maps its error to an exit status.
func run(ctx context.Context, env *environment, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "stratus: unknown command %q\n\n", args[0])
		usage(env.stderr, cmds)
		return 2
	}
	err := c.run(ctx, env, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.stderr, "stratus %s: %v\n", args[0], err)
		return 2
	case errors.Is(err, errFailed):
		return 1
	default:
		fmt.Fprintf(env.stderr, "stratus %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprint(w, "stratus recognises handwritten digits: web canvas → Kafka → Beam → CNN.\n\nusage: stratus COMMAND [flags]\n\ncommands:\n")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, "\nRun `stratus COMMAND --help` for a command's flags; every flag can also be set\nwith an environment variable STRATUS_<FLAG> (e.g. STRATUS_MODEL).\n")
}
