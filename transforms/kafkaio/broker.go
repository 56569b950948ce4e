package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"github.com/stratusml/stratus/internal/kafkasec"
	"io"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// brokerAPI is the cluster metadata and offset access the read path needs.
// kafkaBroker implements it over kafka-go's Client; tests substitute fakes.
type brokerAPI interface {
	// partitions lists the partition ids of topic, sorted.
	partitions(ctx context.Context, topic string) ([]int, error)
	// committed returns the group's committed offsets for the partitions;
	// partitions without a commit are absent.
	committed(ctx context.Context, group, topic string, parts []int) (map[int]int64, error)
	// offsets returns the first (earliest) or last (high-water mark) offset
	// of each partition.
	offsets(ctx context.Context, topic string, parts []int, last bool) (map[int]int64, error)
	// commit commits next-offsets for the partitions of topic to group, as a
	// standalone (generation -1) consumer.
	commit(ctx context.Context, group, topic string, next map[int]int64) error
}

// kafkaBroker implements brokerAPI with one kafka-go Client whose Transport
// pools connections and routes group requests to the coordinator.
type kafkaBroker struct {
	client *kafka.Client
}

func newKafkaBroker(brokers []string, clientID string, sec kafkasec.Config) (*kafkaBroker, error) {
	t, err := sec.Transport(clientID, defaultDialTimeout)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: %w", err)
	}
	return &kafkaBroker{client: &kafka.Client{
		Addr:      kafka.TCP(brokers...),
		Timeout:   defaultRequestTimeout,
		Transport: t,
	}}, nil
}

// close releases the pooled connections.
func (b *kafkaBroker) close() {
	if t, ok := b.client.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
}

func (b *kafkaBroker) partitions(ctx context.Context, topic string) ([]int, error) {
	var ids []int
	err := retry(ctx, func() error {
		res, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return err
		}
		for _, t := range res.Topics {
			if t.Name != topic {
				continue
			}
			if t.Error != nil {
				return t.Error
			}
			ids = ids[:0]
			for _, p := range t.Partitions {
				if p.Error != nil {
					return fmt.Errorf("partition %d: %w", p.ID, p.Error)
				}
				ids = append(ids, p.ID)
			}
			if len(ids) == 0 {
				return kafka.LeaderNotAvailable // a topic being created
			}
			return nil
		}
		return kafka.UnknownTopicOrPartition
	})
	if err != nil {
		return nil, fmt.Errorf("kafkaio: listing partitions of %q: %w", topic, err)
	}
	slices.Sort(ids)
	return ids, nil
}

func (b *kafkaBroker) committed(ctx context.Context, group, topic string, parts []int) (map[int]int64, error) {
	out := map[int]int64{}
	err := retry(ctx, func() error {
		res, err := b.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
			GroupID: group,
			Topics:  map[string][]int{topic: parts},
		})
		if err != nil {
			return err
		}
		if errors.Is(res.Error, kafka.GroupIdNotFound) {
			// A group that never committed: Kafka answers with no offsets,
			// some Kafka-protocol brokers (kfake) with this error.
			clear(out)
			return nil
		}
		if res.Error != nil {
			return res.Error
		}
		clear(out)
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
			if p.CommittedOffset >= 0 {
				out[p.Partition] = p.CommittedOffset
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kafkaio: fetching offsets of group %q on %q: %w", group, topic, err)
	}
	return out, nil
}

func (b *kafkaBroker) offsets(ctx context.Context, topic string, parts []int, last bool) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		if last {
			reqs[i] = kafka.LastOffsetOf(p)
		} else {
			reqs[i] = kafka.FirstOffsetOf(p)
		}
	}
	out := map[int]int64{}
	err := retry(ctx, func() error {
		res, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err != nil {
			return err
		}
		clear(out)
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
			if last {
				out[p.Partition] = p.LastOffset
			} else {
				out[p.Partition] = p.FirstOffset
			}
		}
		for _, p := range parts {
			if _, ok := out[p]; !ok {
				return fmt.Errorf("partition %d: no offset in the answer: %w", p, kafka.UnknownTopicOrPartition)
			}
		}
		return nil
	})
	if err != nil {
		which := "first"
		if last {
			which = "last"
		}
		return nil, fmt.Errorf("kafkaio: listing %s offsets of %q: %w", which, topic, err)
	}
	return out, nil
}

func (b *kafkaBroker) commit(ctx context.Context, group, topic string, next map[int]int64) error {
	commits := make([]kafka.OffsetCommit, 0, len(next))
	for p, off := range next {
		commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: off})
	}
	err := retry(ctx, func() error {
		res, err := b.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
			GroupID:      group,
			GenerationID: -1, // a standalone consumer: no group membership
			Topics:       map[string][]kafka.OffsetCommit{topic: commits},
		})
		if err != nil {
			return err
		}
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kafkaio: committing offsets of group %q on %q: %w", group, topic, err)
	}
	return nil
}

// retry runs f up to 8 times over about 10 s while it fails with an error
// worth retrying: a retriable Kafka error (a leader or coordinator moving or
// still loading, a topic being created) or a dropped connection, as after a
// broker restart, when the first request on a pooled connection fails.
func retry(ctx context.Context, f func() error) error {
	backoff := 50 * time.Millisecond
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if err = f(); err == nil || !retriable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 3*time.Second)
	}
	return err
}

// retriable reports whether err is worth retrying: a broker or the network
// passing through trouble, not a request the broker will always refuse.
func retriable(err error) bool {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary() || kerr == kafka.UnknownTopicOrPartition
	}
	var nerr net.Error
	// kafka-go's client-side errors while its metadata is stale (a broker
	// restarting, a leader moving) pass too.
	return errors.Is(err, protocol.ErrNoLeader) || errors.Is(err, protocol.ErrNoPartition) || errors.Is(err, protocol.ErrNoTopic) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || (errors.As(err, &nerr) && nerr.Timeout())
}
