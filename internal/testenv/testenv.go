// Package testenv hands integration tests the addresses of the real
// components they run against: a Kafka broker and a CouchDB-protocol server,
// as started by the scripts in deploy/local.
//
// Browser tests get Debian's Chromium from STRATUS_CHROMIUM the same way
// (deploy/local/chromium.sh writes it).
//
// Integration tests are opt-in. With STRATUS_INTEGRATION unset or empty
// (a plain `go test ./...`), Kafka and CouchDB skip the calling test, so the
// quick suite stays fast and needs nothing running. With
// STRATUS_INTEGRATION set (CI sets STRATUS_INTEGRATION=1), a missing or
// unreachable component fails the test with a message naming the script that
// starts it:
//
//	deploy/local/up.sh
//	STRATUS_INTEGRATION=1 go test -tags integration ./...
//	deploy/local/down.sh
//
// Addresses come from the environment variables STRATUS_KAFKA
// (host:port[,host:port...]) and STRATUS_COUCHDB (a URL, credentials
// allowed), or, when those are unset, from the env file that the scripts
// write: $STRATUS_LOCAL_ENV, else $STRATUS_LOCAL_DIR/env, else
// ~/.cache/stratus-local/env.
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Names of the environment variables this package reads.
const (
	// EnvIntegration turns integration tests on when set to a non-empty value.
	EnvIntegration = "STRATUS_INTEGRATION"
	// EnvKafka holds the Kafka bootstrap brokers, host:port[,host:port...].
	EnvKafka = "STRATUS_KAFKA"
	// EnvCouchDB holds the CouchDB URL, e.g. http://127.0.0.1:5984.
	EnvCouchDB = "STRATUS_COUCHDB"
	// EnvChromium names the Chromium binary the browser tests drive.
	EnvChromium = "STRATUS_CHROMIUM"
	// EnvLocalDir is the scripts' cache and state folder.
	EnvLocalDir = "STRATUS_LOCAL_DIR"
	// EnvLocalEnv names the scripts' env file directly.
	EnvLocalEnv = "STRATUS_LOCAL_ENV"
)

// dialTimeout bounds the reachability check made before an address is
// handed to a test.
const dialTimeout = 3 * time.Second

// Enabled reports whether integration tests are turned on
// (STRATUS_INTEGRATION is set and not empty).
func Enabled() bool {
	return os.Getenv(EnvIntegration) != ""
}

// Kafka returns the Kafka bootstrap address list (host:port, comma-separated
// when several) for a test. It skips the test when integration tests are off,
// and fails it when they are on but no broker is configured or the first
// broker does not accept connections.
func Kafka(t testing.TB) string {
	t.Helper()
	addr := require(t, EnvKafka, "Kafka", "deploy/local/kafka.sh start")
	first := strings.TrimSpace(strings.Split(addr, ",")[0])
	if err := reachable(first); err != nil {
		t.Fatalf("testenv: Kafka at %s (%s) is not reachable: %v; start it with deploy/local/kafka.sh start (or deploy/local/up.sh)", addr, source(EnvKafka), err)
	}
	return addr
}

// CouchDB returns the URL of the CouchDB-protocol server for a test
// (credentials included when configured). It skips the test when integration
// tests are off, and fails it when they are on but no server is configured,
// the URL is malformed, or the server does not accept connections.
func CouchDB(t testing.TB) string {
	t.Helper()
	raw := require(t, EnvCouchDB, "CouchDB", "deploy/local/couchdb.sh start")
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		t.Fatalf("testenv: %s=%q (%s) is not an http(s) URL", EnvCouchDB, redact(raw), source(EnvCouchDB))
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	if err := reachable(host); err != nil {
		t.Fatalf("testenv: CouchDB at %s (%s) is not reachable: %v; start it with deploy/local/couchdb.sh start (or deploy/local/up.sh)", redact(raw), source(EnvCouchDB), err)
	}
	return raw
}

// Chromium returns the path of the Chromium binary for a browser test. It
// skips the test when integration tests are off, and fails it when they are
// on but no Chromium is configured or the file is not executable.
func Chromium(t testing.TB) string {
	t.Helper()
	path := require(t, EnvChromium, "Chromium", "deploy/local/chromium.sh install")
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("testenv: Chromium %s (%s) is not an executable file (%v); install it with deploy/local/chromium.sh install", path, source(EnvChromium), err)
	}
	return path
}

// Lookup returns the value of key from the environment or, when it is unset
// or empty there, from the scripts' env file. It reports false when neither
// has a non-empty value.
func Lookup(key string) (string, bool) {
	if v := os.Getenv(key); v != "" {
		return v, true
	}
	vals, err := readEnvFile(EnvFile())
	if err != nil {
		return "", false
	}
	v, ok := vals[key]
	return v, ok && v != ""
}

// EnvFile returns the path of the env file written by deploy/local:
// $STRATUS_LOCAL_ENV, else $STRATUS_LOCAL_DIR/env, else
// ~/.cache/stratus-local/env (empty when no home folder is known).
func EnvFile() string {
	if p := os.Getenv(EnvLocalEnv); p != "" {
		return p
	}
	if d := os.Getenv(EnvLocalDir); d != "" {
		return filepath.Join(d, "env")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".cache", "stratus-local", "env")
}

// require returns the value of key, skipping the test when integration tests
// are off and failing it when the value is missing.
func require(t testing.TB, key, what, script string) string {
	t.Helper()
	if !Enabled() {
		t.Skipf("testenv: integration test skipped: needs %s; run deploy/local/up.sh, then %s=1 go test -tags integration ./...", what, EnvIntegration)
	}
	v, ok := Lookup(key)
	if !ok {
		t.Fatalf("testenv: %s=1 but no %s address: %s is unset and %s has no %s line; start it with %s (or deploy/local/up.sh)",
			EnvIntegration, what, key, envFileForMessage(), key, script)
	}
	return v
}

// source says where key's value came from, for messages.
func source(key string) string {
	if os.Getenv(key) != "" {
		return "from $" + key
	}
	return "from " + envFileForMessage()
}

func envFileForMessage() string {
	if p := EnvFile(); p != "" {
		return p
	}
	return "the env file"
}

// reachable dials hostport once over TCP.
func reachable(hostport string) error {
	c, err := net.DialTimeout("tcp", hostport, dialTimeout)
	if err != nil {
		return err
	}
	return c.Close()
}

// redact hides a URL's password for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// readEnvFile parses KEY=VALUE lines (an "export " prefix, blank lines and
// # comments allowed; values may be single- or double-quoted).
func readEnvFile(path string) (map[string]string, error) {
	if path == "" {
		return nil, errors.New("no env file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vals[strings.TrimSpace(k)] = v
	}
	return vals, sc.Err()
}
