//go:build integration

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests in this package that run Stratus as separate processes, the way
// it is deployed (stratus stream, several stratus serve, nginx), share the
// helpers here.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// stratusBinary builds the stratus binary once per test run.
func stratusBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stratus-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "stratus")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a process a test started; its output goes to a log file and is
// scanned for lines the test waits for.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string

	mu    sync.Mutex
	lines []string
	done  chan struct{}
	err   error
}

// spawn starts name (a path) with args; the process is killed when the test
// ends if it still runs.
func spawn(t *testing.T, label, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: label, cmd: exec.Command(name, args...), log: filepath.Join(t.TempDir(), label+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a kill reaches its children (nginx workers)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", label, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(f, line)
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
		}
		f.Close()
	}()
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("%s log (%s), last lines:\n%s", label, p.log, p.tail(40))
		}
	})
	return p
}

// waitLine waits for a line of output that matches re and returns its
// submatches.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	seen := 0
	for {
		p.mu.Lock()
		lines := p.lines[seen:]
		p.mu.Unlock()
		for _, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		seen += len(lines)
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name, p.err, re, p.tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed no %q in %s:\n%s", p.name, re, d, p.tail(40))
		}
	}
}

func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := max(0, len(p.lines)-n)
	return strings.Join(p.lines[from:], "\n")
}

// kill sends sig to the process group and waits for the process to end.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// listening matches the line `stratus serve` logs when it listens.
var listening = regexp.MustCompile(`msg="serve: listening" url=(http://\S+?)/? `)

// serveReplica starts `stratus serve` on a free port and returns it and its
// base URL.
func serveReplica(t *testing.T, bin, id string, args ...string) (*proc, string) {
	t.Helper()
	p := spawn(t, "serve-"+id, bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--replica", id, "--rate-limit", "0"}, args...)...)
	m := p.waitLine(t, listening, 2*time.Minute)
	return p, strings.TrimSuffix(m[1], "/")
}

// waitReady polls url/readyz until it answers 200.
func waitReady(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	for {
		if code, _ := get(ctx, url+"/readyz"); code == 200 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/readyz never answered 200", url)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
