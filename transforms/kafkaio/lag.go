package kafkaio

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LagCollector reports, on each Prometheus scrape, how far each of some
// Reads' consumer groups is behind its topic: per partition, the high-water mark
// minus the group's committed offset (the whole retained partition when the
// group has committed nothing):
//
//	stratus_kafka_consumer_lag{group, topic, partition}
//
// It asks the brokers, so it works whatever runner runs the Read.
type LagCollector struct {
	cfgs []ReadConfig
	desc *prometheus.Desc
	up   *prometheus.Desc
	log  *slog.Logger
}

// NewLagCollector returns a LagCollector for the topic and group of each
// of reads (e.g. a pipeline's input and the outbox its store branch reads).
func NewLagCollector(log *slog.Logger, reads ...ReadConfig) *LagCollector {
	if log == nil {
		log = slog.Default()
	}
	c := &LagCollector{
		log: log,
		desc: prometheus.NewDesc("stratus_kafka_consumer_lag", "Records of a partition the pipeline's consumer group has not committed yet.",
			[]string{"group", "topic", "partition"}, nil),
		up: prometheus.NewDesc("stratus_kafka_consumer_lag_up", "1 when the brokers answered the last lag query.", []string{"group", "topic"}, nil),
	}
	for _, r := range reads {
		c.cfgs = append(c.cfgs, r.withDefaults())
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.up }

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, cfg := range c.cfgs {
		lag, err := lagOf(ctx, cfg)
		up := 1.0
		if err != nil {
			c.log.Warn("kafkaio: consumer lag", "group", cfg.GroupID, "topic", cfg.Topic, "err", err)
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, cfg.GroupID, cfg.Topic)
		for p, n := range lag {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), cfg.GroupID, cfg.Topic, strconv.Itoa(p))
		}
	}
}

// lagOf asks the brokers for cfg's group's lag per partition of its topic.
func lagOf(ctx context.Context, cfg ReadConfig) (map[int]int64, error) {
	b, err := newKafkaBroker(cfg.Brokers, cfg.ClientID, cfg.Security)
	if err != nil {
		return nil, err
	}
	defer b.close()
	parts, err := b.partitions(ctx, cfg.Topic)
	if err != nil {
		return nil, err
	}
	committed, err := b.committed(ctx, cfg.GroupID, cfg.Topic, parts)
	if err != nil {
		return nil, err
	}
	ends, err := b.offsets(ctx, cfg.Topic, parts, true)
	if err != nil {
		return nil, err
	}
	starts, err := b.offsets(ctx, cfg.Topic, parts, false)
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
