// Package kafkaprom exports the consumer lag of Kafka reads to Prometheus
// (internal/beamprom exports the Beam job's own metrics).
package kafkaprom

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratusml/stratus/transforms/kafkaio"
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
	cfgs []kafkaio.ReadConfig
	desc *prometheus.Desc
	up   *prometheus.Desc
	log  *slog.Logger
}

// NewLagCollector returns a LagCollector for the topic and group of each
// of reads (e.g. a pipeline's input and the outbox its store branch reads).
func NewLagCollector(log *slog.Logger, reads ...kafkaio.ReadConfig) *LagCollector {
	if log == nil {
		log = slog.Default()
	}
	c := &LagCollector{
		log: log,
		desc: prometheus.NewDesc("stratus_kafka_consumer_lag", "Records of a partition the pipeline's consumer group has not committed yet.",
			[]string{"group", "topic", "partition"}, nil),
		up: prometheus.NewDesc("stratus_kafka_consumer_lag_up", "1 when the brokers answered the last lag query.", []string{"group", "topic"}, nil),
	}
	c.cfgs = append(c.cfgs, reads...) // kafkaio.ConsumerLag fills in the defaults
	return c
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.up }

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, cfg := range c.cfgs {
		lag, err := kafkaio.ConsumerLag(ctx, cfg)
		up := 1.0
		if err != nil {
			c.log.Warn("kafkaprom: consumer lag", "group", cfg.GroupID, "topic", cfg.Topic, "err", err)
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, cfg.GroupID, cfg.Topic)
		for p, n := range lag {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), cfg.GroupID, cfg.Topic, strconv.Itoa(p))
		}
	}
}
