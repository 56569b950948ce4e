// Package flagenv lets every command-line flag be set from an environment
// variable: flag "kafka-listen" of any stratus command reads
// STRATUS_KAFKA_LISTEN when the flag is not given on the command line.
package flagenv

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Prefix starts every environment variable name.
const Prefix = "STRATUS_"

// Name returns the environment variable for a flag name.
func Name(flagName string) string {
	return Prefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// Parse parses args into fs, then fills every flag not set on the command
// line from its environment variable (looked up with getenv, os.Getenv when
// nil). Flag values win over the environment.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v := getenv(Name(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s=%q: %w", Name(f.Name), v, e)
			}
		}
	})
	return err
}

// Usage returns a flag.FlagSet Usage function that prints a synopsis, the
// flags with their environment variables, and a description.
func Usage(fs *flag.FlagSet, synopsis, description string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags (each also read from the environment variable shown):\n", synopsis, description)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, Name(f.Name), f.Usage, def)
		})
	}
}
