package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stratusml/stratus/internal/kafkasec"
)

// kafkaFlags are how a command reaches Kafka: the brokers, TLS and SASL.
// The SASL password never comes from a flag: --kafka-password-file or
// $STRATUS_KAFKA_PASSWORD.
type kafkaFlags struct {
	brokers *string
	sec     kafkasec.Config
}

func addKafkaFlags(fs *flag.FlagSet) *kafkaFlags {
	k := &kafkaFlags{brokers: fs.String("kafka", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")}
	fs.BoolVar(&k.sec.TLS, "kafka-tls", false, "connect to Kafka over TLS (implied by the other --kafka-tls-* flags)")
	fs.StringVar(&k.sec.CAFile, "kafka-tls-ca", "", "PEM file of CAs to trust for Kafka's certificates, besides the system's")
	fs.StringVar(&k.sec.CertFile, "kafka-tls-cert", "", "PEM client certificate for Kafka (mutual TLS)")
	fs.StringVar(&k.sec.KeyFile, "kafka-tls-key", "", "PEM key of --kafka-tls-cert")
	fs.StringVar(&k.sec.SASL, "kafka-sasl", "", "SASL mechanism for Kafka: plain, scram-sha-256 or scram-sha-512")
	fs.StringVar(&k.sec.Username, "kafka-user", "", "SASL username for Kafka")
	fs.StringVar(&k.sec.PasswordFile, "kafka-password-file", "", "file holding the SASL password (default: $"+kafkasec.EnvPassword+")")
	return k
}

// list returns the brokers.
func (k *kafkaFlags) list() []string { return strings.Split(*k.brokers, ",") }

// check validates the security settings and that a SASL password exists.
func (k *kafkaFlags) check() error {
	if err := k.sec.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if _, err := k.sec.Mechanism(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if _, err := k.sec.TLSConfig(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// storeFlags are how a command reaches the store: its URL, and where the
// password comes from when the URL should not carry it.
type storeFlags struct {
	url, passwordFile, prefix *string
}

func addStoreFlags(fs *flag.FlagSet, required bool) *storeFlags {
	what := "store URL: CouchDB http(s)://user@host:5984 (the password from --couchdb-password-file or in $STRATUS_COUCHDB), or file:///path for a local store"
	if required {
		what += " (required)"
	}
	return &storeFlags{
		url:          fs.String("couchdb", "", what),
		passwordFile: fs.String("couchdb-password-file", "", "file holding the CouchDB password, put into the URL's user info"),
		prefix:       fs.String("db-prefix", "", "prefix of the database names (several deployments on one CouchDB)"),
	}
}

// resolve returns the store URL with the password from the file, warning
// when a password was given on the command line (args), where other users
// of the machine can read it (ps).
func (c *storeFlags) resolve(args []string, log *slog.Logger) (string, error) {
	raw := *c.url
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		return raw, nil // the callers report a missing or bad URL
	}
	onCommandLine := false
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		onCommandLine = onCommandLine || (strings.HasPrefix(a, "-") && name == "couchdb")
	}
	if _, has := u.User.Password(); has && onCommandLine {
		log.Warn("the CouchDB password is on the command line, where other users of this machine can read it; use $STRATUS_COUCHDB or --couchdb-password-file")
	}
	if *c.passwordFile == "" {
		return raw, nil
	}
	b, err := os.ReadFile(*c.passwordFile)
	if err != nil {
		return "", fmt.Errorf("CouchDB password file: %w", err)
	}
	user := ""
	if u.User != nil {
		user = u.User.Username()
	}
	if user == "" {
		return "", fmt.Errorf("%w: --couchdb-password-file needs a user in the URL (http://user@host:5984)", errUsage)
	}
	u.User = url.UserPassword(user, strings.TrimRight(string(b), "\r\n"))
	return u.String(), nil
}

// serveMetrics serves reg at addr/metrics (and addr/healthz) in the
// background and returns the address it listens on; stop closes it.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (listening string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info("metrics: serving", "url", "http://"+ln.Addr().String()+"/metrics")
	return ln.Addr().String(), func() { _ = hs.Close() }, nil
}
