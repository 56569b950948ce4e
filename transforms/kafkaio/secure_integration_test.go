//go:build integration

package kafkaio_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/internal/kafkasec"
	"github.com/stratusml/stratus/internal/kafkasec/kafkasectest"
	"github.com/stratusml/stratus/transforms/kafkaio"
)

// TestSecureRoundTrip: the read and the write over TLS with SASL
// (SCRAM-SHA-512), the password reaching the worker from a file, on a
// broker that refuses anything else.
func TestSecureRoundTrip(t *testing.T) {
	addr, ca := kafkasectest.SecureBroker(t, "SCRAM-SHA-512", "pipeline", "p4ss", "secure.in", "secure.out")
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte("p4ss"), 0o600); err != nil {
		t.Fatal(err)
	}
	sec := kafkasec.Config{CAFile: ca, SASL: kafkasec.MechanismSCRAMSHA512, Username: "pipeline", PasswordFile: pw}
	tr, err := sec.Transport("test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "secure.in", Transport: tr, BatchTimeout: time.Millisecond}
	defer w.Close()
	const n = 50
	for i := 0; i < n; i++ {
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))}); err != nil {
			t.Fatal(err)
		}
	}

	p, s := beam.NewPipelineWithRoot()
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: []string{addr}, Topic: "secure.in", GroupID: "secure-group", StartFrom: kafkaio.StartEarliest, Security: sec})
	kafkaio.Write(s, kafkaio.WriteConfig{Brokers: []string{addr}, Topic: "secure.out", Security: sec}, recs)
	j := runJob(t, uniqueName(t, "secure"), p)

	d, err := sec.Dialer("test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]bool{}
	for part := 0; part < 2; part++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "secure.out", Partition: part, Dialer: d, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond})
		defer r.Close()
		go func() {
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				got[string(m.Value)] = true
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	for deadline := time.Now().Add(90 * time.Second); count() < n; time.Sleep(100 * time.Millisecond) {
		j.failIfEnded()
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records came through the secured pipeline", count(), n)
		}
	}
	j.cancel()
}
