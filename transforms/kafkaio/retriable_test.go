package kafkaio

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// TestRetriable: the errors a broker restart produces pass; the errors of
// a bad request do not.
func TestRetriable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		// What kafka-go's Client.Produce returned while a restarted broker
		// had not elected the partition's leader yet.
		{"no leader", fmt.Errorf("kafka.(*Client).Produce: %w", protocol.NewErrNoLeader("t", 1)), true},
		{"no partition in stale metadata", fmt.Errorf("kafka.(*Client).Produce: %w", protocol.ErrNoPartition), true},
		{"not the leader", kafka.NotLeaderForPartition, true},
		{"unknown topic or partition", kafka.UnknownTopicOrPartition, true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"cut short", io.ErrUnexpectedEOF, true},
		{"too large", kafka.MessageSizeTooLarge, false},
		{"not authorised", kafka.TopicAuthorizationFailed, false},
		{"other", errors.New("boom"), false},
	} {
		if got := retriable(tc.err); got != tc.want {
			t.Errorf("%s: retriable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
