package kafkaio

import "context"

// ConsumerLag asks the brokers how far cfg's consumer group is behind cfg's
// topic: per partition, the high-water mark minus the group's committed
// offset (the whole retained partition when the group has committed
// nothing). internal/kafkaprom reports it to Prometheus.
func ConsumerLag(ctx context.Context, cfg ReadConfig) (map[int]int64, error) {
	cfg = cfg.withDefaults()
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
