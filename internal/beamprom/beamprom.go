// Package beamprom exports a running Beam job's user metrics to Prometheus:
// on each scrape it asks the runner (through the job service) for the
// job's counters, distributions and gauges and reports them, summed over
// the steps that report the same namespace and name:
//
//	stratus_pipeline_counter_total{namespace, name}
//	stratus_pipeline_distribution_{count,sum,min,max}{namespace, name}
//	stratus_pipeline_gauge{namespace, name}
//
// The names of Beam metrics are data (any string), so they are labels, not
// metric names.
package beamprom

import (
	"context"
	"log/slog"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Source gives a job's metrics (runners.Job implements it).
type Source interface {
	Metrics(ctx context.Context) (metrics.Results, error)
}

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src     Source
	timeout time.Duration
	log     *slog.Logger

	counter, gauge, up *prometheus.Desc
	dist               [4]*prometheus.Desc // count, sum, min, max
}

// New returns a Collector of src's metrics.
func New(src Source, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.Default()
	}
	labels := []string{"namespace", "name"}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("stratus_pipeline_"+name, help, labels, nil)
	}
	return &Collector{
		src: src, timeout: 5 * time.Second, log: log,
		counter: d("counter_total", "A Beam counter of the pipeline, summed over steps."),
		gauge:   d("gauge", "A Beam gauge of the pipeline (the latest value of any step)."),
		up:      prometheus.NewDesc("stratus_pipeline_metrics_up", "1 when the runner answered the last metrics query.", nil, nil),
		dist: [4]*prometheus.Desc{
			d("distribution_count", "Values recorded in a Beam distribution, summed over steps."),
			d("distribution_sum", "Sum of the values of a Beam distribution, summed over steps."),
			d("distribution_min", "Smallest value of a Beam distribution."),
			d("distribution_max", "Largest value of a Beam distribution."),
		},
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.counter, c.gauge, c.up, c.dist[0], c.dist[1], c.dist[2], c.dist[3]} {
		ch <- d
	}
}

type key struct{ ns, name string }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	res, err := c.src.Metrics(ctx)
	if err != nil {
		c.log.Warn("beamprom: the runner gave no metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	all := res.AllMetrics()
	counters := map[key]int64{}
	for _, r := range all.Counters() {
		counters[key{r.Key.Namespace, r.Key.Name}] += max(r.Attempted, r.Committed)
	}
	for k, v := range counters {
		ch <- prometheus.MustNewConstMetric(c.counter, prometheus.CounterValue, float64(v), k.ns, k.name)
	}
	dists := map[key]metrics.DistributionValue{}
	for _, r := range all.Distributions() {
		v := r.Attempted
		if r.Committed.Count > v.Count {
			v = r.Committed
		}
		k := key{r.Key.Namespace, r.Key.Name}
		acc, seen := dists[k]
		if !seen {
			dists[k] = v
			continue
		}
		acc.Count += v.Count
		acc.Sum += v.Sum
		acc.Min, acc.Max = min(acc.Min, v.Min), max(acc.Max, v.Max)
		dists[k] = acc
	}
	for k, v := range dists {
		ch <- prometheus.MustNewConstMetric(c.dist[0], prometheus.CounterValue, float64(v.Count), k.ns, k.name)
		ch <- prometheus.MustNewConstMetric(c.dist[1], prometheus.CounterValue, float64(v.Sum), k.ns, k.name)
		ch <- prometheus.MustNewConstMetric(c.dist[2], prometheus.GaugeValue, float64(v.Min), k.ns, k.name)
		ch <- prometheus.MustNewConstMetric(c.dist[3], prometheus.GaugeValue, float64(v.Max), k.ns, k.name)
	}
	gauges := map[key]metrics.GaugeValue{}
	for _, r := range all.Gauges() {
		v := r.Attempted
		if r.Committed.Timestamp.After(v.Timestamp) {
			v = r.Committed
		}
		k := key{r.Key.Namespace, r.Key.Name}
		if old, seen := gauges[k]; !seen || v.Timestamp.After(old.Timestamp) {
			gauges[k] = v
		}
	}
	for k, v := range gauges {
		ch <- prometheus.MustNewConstMetric(c.gauge, prometheus.GaugeValue, float64(v.Value), k.ns, k.name)
	}
}
