package kafkasec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/internal/kafkasec/kafkasectest"
)

// TestSecuredConnections: with the CA and the right SASL credentials a
// client reaches a TLS + SASL broker, for each mechanism; without the CA,
// without SASL or with a wrong password it does not.
func TestSecuredConnections(t *testing.T) {
	for _, mech := range []struct{ kfake, ours string }{
		{"PLAIN", MechanismPlain}, {"SCRAM-SHA-256", MechanismSCRAMSHA256}, {"SCRAM-SHA-512", MechanismSCRAMSHA512},
	} {
		t.Run(mech.ours, func(t *testing.T) {
			addr, ca := kafkasectest.SecureBroker(t, mech.kfake, "stratus", "s3cret", "t")
			pwFile := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			good := Config{CAFile: ca, SASL: mech.ours, Username: "stratus", PasswordFile: pwFile}
			for _, tc := range []struct {
				name string
				cfg  Config
				ok   bool
			}{
				{"right", good, true},
				{"no CA", Config{TLS: true, SASL: mech.ours, Username: "stratus", PasswordFile: pwFile}, false},
				{"no TLS", Config{SASL: mech.ours, Username: "stratus", PasswordFile: pwFile}, false},
				{"no SASL", Config{CAFile: ca}, false},
				{"wrong password", func() Config { c := good; c.PasswordFile = ""; return c }(), false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Setenv(EnvPassword, "wrong")
					tr, err := tc.cfg.Transport("test", 3*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 5 * time.Second, Transport: tr}
					ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
					defer cancel()
					_, err = cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"t"}})
					if (err == nil) != tc.ok {
						t.Fatalf("metadata: %v, want ok=%v", err, tc.ok)
					}
					if tc.ok {
						// The reader's Dialer path too: produce, then read back.
						w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "t", Transport: tr, BatchTimeout: time.Millisecond}
						defer w.Close()
						if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err != nil {
							t.Fatal(err)
						}
						d, err := tc.cfg.Dialer("test", 3*time.Second)
						if err != nil {
							t.Fatal(err)
						}
						part := (&kafka.Hash{}).Balance(kafka.Message{Key: []byte("k")}, 0, 1)
						r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "t", Partition: part, Dialer: d, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond})
						defer r.Close()
						m, err := r.ReadMessage(ctx)
						if err != nil || string(m.Value) != "hello" {
							t.Fatalf("read back: %q %v", m.Value, err)
						}
					}
				})
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{SASL: "gssapi", Username: "u"}, "mechanism"},
		{Config{SASL: "plain"}, "username"},
		{Config{CertFile: "c.pem"}, "both"},
		{Config{TLS: true, CertFile: "c", KeyFile: "k", SASL: "SCRAM-SHA-512", Username: "u"}, ""},
	} {
		err := tc.cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := (Config{SASL: "plain", Username: "u"}).Mechanism(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a missing password: %v", err)
	}
}
