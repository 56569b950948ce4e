package kafkaio

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LagCollector reports, on each Prometheus scrape, how far a Read's
// consumer group is behind its topic: per partition, the high-water mark
// minus the group's committed offset (the whole retained partition when the
// group has committed nothing):
//
//	stratus_kafka_consumer_lag{group, topic, partition}
//
// It asks the brokers, so it works whatever runner runs the Read.
type LagCollector struct {
	cfg  ReadConfig
	desc *prometheus.Desc
	up   *prometheus.Desc
	log  *slog.Logger
}

// NewLagCollector returns a LagCollector for cfg's topic and group.
func NewLagCollector(cfg ReadConfig, log *slog.Logger) *LagCollector {
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	return &LagCollector{
		cfg: cfg, log: log,
		desc: prometheus.NewDesc("stratus_kafka_consumer_lag", "Records of a partition the pipeline's consumer group has not committed yet.",
			[]string{"group", "topic", "partition"}, nil),
		up: prometheus.NewDesc("stratus_kafka_consumer_lag_up", "1 when the brokers answered the last lag query.", []string{"group", "topic"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.up }

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lag, err := c.lag(ctx)
	up := 1.0
	if err != nil {
		c.log.Warn("kafkaio: consumer lag", "group", c.cfg.GroupID, "topic", c.cfg.Topic, "err", err)
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, c.cfg.GroupID, c.cfg.Topic)
	for p, n := range lag {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), c.cfg.GroupID, c.cfg.Topic, strconv.Itoa(p))
	}
}

func (c *LagCollector) lag(ctx context.Context) (map[int]int64, error) {
	b, err := newKafkaBroker(c.cfg.Brokers, c.cfg.ClientID, c.cfg.Security)
	if err != nil {
		return nil, err
	}
	defer b.close()
	parts, err := b.partitions(ctx, c.cfg.Topic)
	if err != nil {
		return nil, err
	}
	committed, err := b.committed(ctx, c.cfg.GroupID, c.cfg.Topic, parts)
	if err != nil {
		return nil, err
	}
	ends, err := b.offsets(ctx, c.cfg.Topic, parts, true)
	if err != nil {
		return nil, err
	}
	starts, err := b.offsets(ctx, c.cfg.Topic, parts, false)
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, len(parts))
	for _, p := range parts {
		from, ok := committed[p]
		if !ok {
			from = starts[p]
		}
		out[p] = max(ends[p]-from, 0)
	}
	return out, nil
}
