package kafkaprom

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stratusml/stratus/transforms/kafkaio"
)

// gather scrapes c once: the lag per partition and the up gauge, by topic.
func gather(t *testing.T, c prometheus.Collector) (lag map[string]float64, up map[string]float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	lag, up = map[string]float64{}, map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "stratus_kafka_consumer_lag":
				lag[labels["topic"]+"/"+labels["partition"]] = m.GetGauge().GetValue()
			case "stratus_kafka_consumer_lag_up":
				up[labels["topic"]] = m.GetGauge().GetValue()
			}
		}
	}
	return lag, up
}

// TestLagCollector: a group that has committed nothing lags by the whole
// partition; brokers that do not answer report up 0 and no lag.
func TestLagCollector(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "t", BatchTimeout: time.Millisecond}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("a")}, kafka.Message{Value: []byte("b")}, kafka.Message{Value: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	c := NewLagCollector(nil,
		kafkaio.ReadConfig{Brokers: brokers, Topic: "t", GroupID: "g"},
		kafkaio.ReadConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "gone", GroupID: "g"})
	lag, up := gather(t, c)
	if lag["t/0"] != 3 || len(lag) != 1 {
		t.Errorf("lag = %v, want t/0 = 3 only", lag)
	}
	if up["t"] != 1 || up["gone"] != 0 {
		t.Errorf("up = %v, want t 1, gone 0", up)
	}
}
