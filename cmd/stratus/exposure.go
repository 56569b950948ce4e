package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/stratusml/stratus/internal/listeners"
)

// What each listener exposes, for the warning that naming a non-loopback
// address prints (SECURITY.md has the full table).
const (
	exposesFrontend = "the canvas page and the API (predictions, history, labels), /metrics and /readyz"
	exposesBroker   = "the embedded Kafka broker: every drawing, answer and stored sample on its topics, and writes to them"
	exposesMetrics  = "the pipeline's metrics (/metrics: counters, consumer lag, topic names)"
	exposesPprof    = "Go's profiles (/debug/pprof: memory contents, command line, CPU and execution traces)"
)

// warnExposed warns when flag's address is reachable from other hosts,
// naming what becomes reachable there.
func warnExposed(log *slog.Logger, flag, addr, what string) {
	if addr == "" || listeners.IsLoopback(addr) {
		return
	}
	log.Warn(fmt.Sprintf("--%s %s is not a loopback address: other hosts can reach %s; see SECURITY.md", flag, addr, what))
}

// checkOwnListeners refuses to go on when this process listens beyond
// loopback on an address no flag named (named: the addresses the user gave
// or their listeners report). A library that opened a port of its own
// (a runner's job service, a worker endpoint) would show up here.
func checkOwnListeners(log *slog.Logger, named ...string) error {
	got, err := listeners.Of(0)
	if err != nil {
		log.Debug("cannot list this process's listeners", "err", err)
		return nil
	}
	if open := listeners.Unexpected(got, named...); len(open) > 0 {
		return fmt.Errorf("this process listens on %v, which no flag asked for (named: %s): refusing to run; see SECURITY.md", open, strings.Join(named, ", "))
	}
	return nil
}

// pageURL is the page's URL on the listener at addr (host:port).
func pageURL(addr string) string { return "http://" + addr + "/" }
