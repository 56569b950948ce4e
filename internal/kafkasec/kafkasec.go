// Package kafkasec is how Stratus connects to a secured Kafka cluster: TLS
// (a CA, optionally a client certificate) and SASL (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512). It turns one Config into the kafka-go Dialer (readers)
// and Transport (writers, admin requests) that every Kafka client of
// Stratus uses.
//
// The Config holds file paths and names only, never a secret, because it
// travels inside a Beam pipeline's definition to the runner: the SASL
// password is read where the connection is made, from PasswordFile or else
// the environment variable EnvPassword.
package kafkasec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// EnvPassword is the environment variable the SASL password is read from
// when Config.PasswordFile is empty.
const EnvPassword = "STRATUS_KAFKA_PASSWORD"

// SASL mechanisms.
const (
	MechanismPlain       = "plain"
	MechanismSCRAMSHA256 = "scram-sha-256"
	MechanismSCRAMSHA512 = "scram-sha-512"
)

// Config says how to secure Kafka connections. The zero Config is plain
// TCP without authentication.
type Config struct {
	// TLS turns TLS on (it is on too when any TLS file is set).
	TLS bool
	// CAFile is a PEM file of CAs to trust besides the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key (mTLS).
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string
	// InsecureSkipVerify trusts any broker certificate (tests only).
	InsecureSkipVerify bool

	// SASL is the mechanism: "", "plain", "scram-sha-256" or "scram-sha-512".
	SASL string
	// Username for SASL.
	Username string
	// PasswordFile holds the SASL password (a trailing newline is dropped);
	// empty: $STRATUS_KAFKA_PASSWORD.
	PasswordFile string
}

// Enabled reports whether c asks for TLS or SASL.
func (c Config) Enabled() bool { return c.tlsOn() || c.SASL != "" }

func (c Config) tlsOn() bool {
	return c.TLS || c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.InsecureSkipVerify
}

// Validate checks c without reading any file.
func (c Config) Validate() error {
	switch strings.ToLower(c.SASL) {
	case "", MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
	default:
		return fmt.Errorf("kafkasec: SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", c.SASL)
	}
	if c.SASL != "" && c.Username == "" {
		return errors.New("kafkasec: SASL needs a username")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("kafkasec: a client certificate needs both its certificate and its key file")
	}
	return nil
}

// TLSConfig builds the TLS configuration (nil when TLS is off).
func (c Config) TLSConfig() (*tls.Config, error) {
	if !c.tlsOn() {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in, for tests
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafkasec: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafkasec: CA file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafkasec: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Mechanism builds the SASL mechanism (nil when SASL is off), reading the
// password.
func (c Config) Mechanism() (sasl.Mechanism, error) {
	if c.SASL == "" {
		return nil, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	pw, err := c.password()
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(c.SASL) {
	case MechanismPlain:
		return plain.Mechanism{Username: c.Username, Password: pw}, nil
	case MechanismSCRAMSHA256:
		return scram.Mechanism(scram.SHA256, c.Username, pw)
	default:
		return scram.Mechanism(scram.SHA512, c.Username, pw)
	}
}

func (c Config) password() (string, error) {
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("kafkasec: password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	pw := os.Getenv(EnvPassword)
	if pw == "" {
		return "", fmt.Errorf("kafkasec: SASL user %q has no password: set $%s or a password file", c.Username, EnvPassword)
	}
	return pw, nil
}

// Dialer returns a kafka-go Dialer (for Readers) secured per c.
func (c Config) Dialer(clientID string, timeout time.Duration) (*kafka.Dialer, error) {
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	mech, err := c.Mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{ClientID: clientID, Timeout: timeout, DualStack: true, TLS: tc, SASLMechanism: mech}, nil
}

// Transport returns a kafka-go Transport (for Writers and Clients) secured
// per c.
func (c Config) Transport(clientID string, dialTimeout time.Duration) (*kafka.Transport, error) {
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	mech, err := c.Mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{ClientID: clientID, DialTimeout: dialTimeout, IdleTimeout: time.Minute, TLS: tc, SASL: mech}, nil
}
