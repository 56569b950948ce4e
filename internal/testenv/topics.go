package testenv

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// CreateTopics creates topics (name → partitions, replication factor 1) on
// the broker and waits until every partition has a leader; it fails t on
// any error.
func CreateTopics(t testing.TB, broker string, topics map[string]int) {
	t.Helper()
	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		t.Fatalf("testenv: dial Kafka %s: %v", broker, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("testenv: Kafka controller: %v", err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("testenv: dial the Kafka controller: %v", err)
	}
	defer cc.Close()
	var cfgs []kafka.TopicConfig
	for name, n := range topics {
		cfgs = append(cfgs, kafka.TopicConfig{Topic: name, NumPartitions: n, ReplicationFactor: 1})
	}
	if err := cc.CreateTopics(cfgs...); err != nil {
		t.Fatalf("testenv: create topics: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for name, n := range topics {
		for {
			parts, err := conn.ReadPartitions(name)
			led := 0
			for _, p := range parts {
				if p.Leader.Host != "" {
					led++
				}
			}
			if err == nil && led == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testenv: topic %s: %d of %d partitions have a leader after 30 s (%v)", name, led, n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
