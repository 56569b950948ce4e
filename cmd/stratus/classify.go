package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
)

// classifyLine is one line of `stratus classify` output (docs/contracts.md, Command line).
type classifyLine struct {
	File       string              `json:"file"`
	Digits     string              `json:"digits"`
	Candidates []drawing.Candidate `json:"candidates"`
	Confidence float64             `json:"confidence"`
}

// classifyChunk bounds how many pictures are decoded before a forward pass.
const classifyChunk = 256

func runClassify(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	modeFlag := fs.String("mode", "digit", `"digit": each picture is one digit; "number": a number of several digits`)
	modelFlag := fs.String("model", "", "model file or id (default: the model shipped in the binary)")
	fs.Usage = flagenv.Usage(fs, "stratus classify [--mode digit|number] [--model FILE] PATH...",
		"Classifies PNG pictures offline: each PATH is a PNG file or a folder searched\nrecursively for *.png. Prints one JSON line per picture, in input order:\n"+
			`{"file":…,"digits":"7","candidates":[…],"confidence":…}`+"\nAn unreadable or non-PNG file is reported on stderr and makes the exit status\nnon-zero; every other picture is still classified.")
	if err := flagenv.Parse(fs, args, env.getenv); err != nil {
		return usageErr(err)
	}
	mode, err := drawing.ParseMode(*modeFlag)
	if err != nil {
		return fmt.Errorf("%w: --mode: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no PATH given", errUsage)
	}
	m, err := loadModel(ctx, *modelFlag, env.getenv("STRATUS_COUCHDB"), env.getenv("STRATUS_DB_PREFIX"))
	if err != nil {
		return err
	}
	rec, err := recognize.New(m)
	if err != nil {
		return err
	}
	files, failed := expandPaths(env, fs.Args())
	enc := json.NewEncoder(env.stdout)
	lim := drawing.LocalLimits() // the user's own files
	for start := 0; start < len(files); start += classifyChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := files[start:min(start+classifyChunk, len(files))]
		digits := make([][]preprocess.Digit, len(chunk))
		errs := make([]error, len(chunk))
		parallel(len(chunk), func(i int) {
			digits[i], errs[i] = readPicture(chunk[i], mode, lim)
		})
		var ok [][]preprocess.Digit
		for i := range chunk {
			if errs[i] == nil {
				ok = append(ok, digits[i])
			}
		}
		results := rec.Recognize(ok)
		k := 0
		for i, f := range chunk {
			if errs[i] != nil {
				fmt.Fprintf(env.stderr, "stratus classify: %s: %v\n", f, errs[i])
				failed = true
				continue
			}
			r := results[k]
			k++
			if err := enc.Encode(classifyLine{File: f, Digits: r.Digits, Candidates: r.Candidates, Confidence: r.Confidence}); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

// readPicture reads and preprocesses one PNG file.
func readPicture(path string, mode drawing.Mode, lim drawing.Limits) ([]preprocess.Digit, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > int64(lim.MaxPNGBytes) {
		return nil, fmt.Errorf("%d bytes, more than the %d-byte PNG limit: %w", st.Size(), lim.MaxPNGBytes, drawing.ErrTooLarge)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := preprocess.DecodePNG(data, lim)
	if err != nil {
		return nil, err
	}
	return recognize.Digits(img, mode)
}

// expandPaths turns the command-line paths into a list of files: files as
// given, folders searched recursively for *.png (sorted). Paths that cannot
// be read are reported and make failed true.
func expandPaths(env *environment, paths []string) (files []string, failed bool) {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(env.stderr, "stratus classify: %v\n", err)
			failed = true
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(env.stderr, "stratus classify: %v\n", err)
				failed = true
				return nil
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".png") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintf(env.stderr, "stratus classify: %s: %v\n", p, err)
			failed = true
		}
		if len(found) == 0 {
			fmt.Fprintf(env.stderr, "stratus classify: %s: no .png files in this folder\n", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, failed
}

// parallel runs f(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

func usageErr(err error) error {
	if err == flag.ErrHelp {
		return err
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}
