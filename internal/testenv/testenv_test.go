package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeTB records Skip and Fatal calls; like testing.T it stops the calling
// goroutine when either happens.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	skipped bool
	failed  bool
	msg     string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped, f.msg = true, fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// call runs fn(f) on its own goroutine (Skip/Fatal end it) and returns what
// fn returned, if it returned.
func call(t *testing.T, fn func(testing.TB) string) (f *fakeTB, got string) {
	f = &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = fn(f)
	}()
	<-done
	return f, got
}

// clearEnv isolates a test from the caller's environment and env file.
func clearEnv(t *testing.T) string {
	dir := t.TempDir()
	for _, k := range []string{EnvIntegration, EnvKafka, EnvCouchDB, EnvLocalEnv} {
		t.Setenv(k, "")
	}
	t.Setenv(EnvLocalDir, dir)
	return dir
}

func listen(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

func TestSkipsWhenIntegrationOff(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvKafka, listen(t))
	for name, fn := range map[string]func(testing.TB) string{"kafka": Kafka, "couchdb": CouchDB} {
		f, _ := call(t, fn)
		if !f.skipped || f.failed {
			t.Errorf("%s: skipped=%v failed=%v, want a skip", name, f.skipped, f.failed)
		}
		if !strings.Contains(f.msg, "deploy/local/up.sh") || !strings.Contains(f.msg, EnvIntegration) {
			t.Errorf("%s: skip message %q should name the script and %s", name, f.msg, EnvIntegration)
		}
	}
}

func TestFailsWhenMissing(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvIntegration, "1")
	for name, script := range map[string]string{"kafka": "deploy/local/kafka.sh start", "couchdb": "deploy/local/couchdb.sh start"} {
		fn := Kafka
		if name == "couchdb" {
			fn = CouchDB
		}
		f, _ := call(t, fn)
		if !f.failed || f.skipped {
			t.Errorf("%s: failed=%v skipped=%v, want a failure", name, f.failed, f.skipped)
		}
		if !strings.Contains(f.msg, script) {
			t.Errorf("%s: message %q should name %q", name, f.msg, script)
		}
	}
}

func TestFailsWhenUnreachable(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvIntegration, "1")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	t.Setenv(EnvKafka, dead)
	t.Setenv(EnvCouchDB, "http://u:secret@"+dead)
	for name, fn := range map[string]func(testing.TB) string{"kafka": Kafka, "couchdb": CouchDB} {
		f, _ := call(t, fn)
		if !f.failed {
			t.Errorf("%s: want a failure for a dead address", name)
		}
		if !strings.Contains(f.msg, "not reachable") || strings.Contains(f.msg, "secret") {
			t.Errorf("%s: message %q should say not reachable and hide the password", name, f.msg)
		}
	}
}

func TestFromEnvFile(t *testing.T) {
	dir := clearEnv(t)
	t.Setenv(EnvIntegration, "1")
	kafkaAddr, couchAddr := listen(t), listen(t)
	content := "# written by deploy/local\nSTRATUS_KAFKA=" + kafkaAddr + "\n\nexport STRATUS_COUCHDB='http://" + couchAddr + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, got := call(t, Kafka); f.failed || f.skipped || got != kafkaAddr {
		t.Errorf("Kafka = %q (failed=%v skipped=%v %s), want %q", got, f.failed, f.skipped, f.msg, kafkaAddr)
	}
	if f, got := call(t, CouchDB); f.failed || f.skipped || got != "http://"+couchAddr {
		t.Errorf("CouchDB = %q (failed=%v skipped=%v %s), want http://%s", got, f.failed, f.skipped, f.msg, couchAddr)
	}

	// The environment wins over the file.
	other := listen(t)
	t.Setenv(EnvKafka, other)
	if f, got := call(t, Kafka); f.failed || got != other {
		t.Errorf("Kafka with %s set = %q, want %q", EnvKafka, got, other)
	}
}

func TestEnvFilePath(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvLocalDir, "/x/y")
	if got := EnvFile(); got != filepath.Join("/x/y", "env") {
		t.Errorf("EnvFile = %q", got)
	}
	t.Setenv(EnvLocalEnv, "/a/b.env")
	if got := EnvFile(); got != "/a/b.env" {
		t.Errorf("EnvFile with %s = %q", EnvLocalEnv, got)
	}
	t.Setenv(EnvLocalEnv, "")
	t.Setenv(EnvLocalDir, "")
	if got := EnvFile(); got != "" && !strings.HasSuffix(got, filepath.Join(".cache", "stratus-local", "env")) {
		t.Errorf("default EnvFile = %q", got)
	}
}

func TestReadEnvFileRejectsGarbage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(p, []byte("STRATUS_KAFKA=1.2.3.4:9\nnot a pair\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readEnvFile(p); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("readEnvFile error = %v, want one naming line 2", err)
	}
}
