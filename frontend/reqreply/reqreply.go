// Package reqreply is request-reply over Kafka for the Stratus frontend:
// a Client produces CanvasEvents to the canvas topic with its own replica id
// in reply_to, reads the Predictions the pipeline writes to the reply topic
// keyed by reply_to, and hands each reply to the caller that waits for it.
//
// Each replica reads only the reply partition(s) its own key hashes to, with
// the same balancer the pipeline's Kafka write uses (kafka-go's Hash, FNV-1a:
// kafkaio.BalanceHash), so N replicas share the reply topic without each
// reading every reply; with Config.AllPartitions it reads them all and keeps
// the replies whose key is its id (for pipelines that balance differently).
// It starts reading at the partitions' end offsets, resolved before New
// returns, so no reply to a request sent after New can be missed.
//
// A reply answers only the request it names: the same event id, revision
// (rev) and session. One for a request nobody waits for any more (late,
// after a timeout; a duplicate, after a pipeline restart; an older revision
// of a drawing) or whose session differs (forged, or another client's) is
// counted (Hooks.Unmatched) and dropped, never handed to another request.
// Delivery is at-least-once end to end: a reply may come twice; the first
// one answers. A request that gets no reply before its context ends fails
// with ErrTimeout.
package reqreply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/message"
)

// ErrTimeout: no reply came before the request's context ended.
var ErrTimeout = errors.New("reqreply: no reply in time")

// ErrClosed: the Client was closed.
var ErrClosed = errors.New("reqreply: client closed")

// Config sets up a Client. Brokers and ReplicaID are required.
type Config struct {
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// RequestTopic (default message.TopicCanvas) and ReplyTopic (default
	// message.TopicPredictions).
	RequestTopic, ReplyTopic string
	// ReplicaID is this replica's reply_to: unique among the replicas that
	// share the topics.
	ReplicaID string
	// AllPartitions reads every reply partition instead of only the one
	// ReplicaID hashes to.
	AllPartitions bool
	// Transport carries the produce and metadata requests (TLS, SASL);
	// nil: kafka-go's default transport.
	Transport kafka.RoundTripper
	// Dialer opens the reply readers' connections (TLS, SASL); nil:
	// kafka-go's default dialer.
	Dialer *kafka.Dialer
	// FetchMaxWait is the reply readers' broker-side long poll (default
	// 250 ms). Keep it well above the broker's response jitter: kafka-go
	// drops the connection when a fetch misses it (see docs/pipeline.md).
	FetchMaxWait time.Duration
	// RefreshInterval is how often the reply topic's partition count is
	// checked, to follow a topic that grew (default 30 s).
	RefreshInterval time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Hooks observe the client (metrics); any may be nil.
	Hooks Hooks
}

// Hooks are callbacks for metrics.
type Hooks struct {
	// Produced is called after each produce with its duration and error.
	Produced func(d time.Duration, err error)
	// Unmatched is called for a reply nobody waits for (late, duplicate or
	// for another replica's key on a shared partition).
	Unmatched func()
}

func (c Config) withDefaults() Config {
	if c.RequestTopic == "" {
		c.RequestTopic = message.TopicCanvas
	}
	if c.ReplyTopic == "" {
		c.ReplyTopic = message.TopicPredictions
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = 250 * time.Millisecond
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Reply is what the pipeline answered: a Prediction, or an error reply
// (Prediction.Error set) for an event it could not answer.
type Reply = message.Prediction

// waiter is a caller waiting for the reply to one revision of an event in
// one session.
type waiter struct {
	ch      chan Reply
	rev     int
	session string
}

// revision is the rev a request or reply names: 0 means 1.
func revision(rev int) int { return max(rev, 1) }

// Client sends requests and routes replies. It is safe for concurrent use.
type Client struct {
	cfg    Config
	client *kafka.Client
	writer *kafka.Writer

	mu      sync.Mutex
	waiting map[string][]waiter   // event id → callers, oldest first
	readers map[int]*kafka.Reader // reply partition → its reader
	closed  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New connects: it resolves the reply partition(s) and their end offsets
// and starts reading them, retrying until ctx ends. It fails when Kafka
// cannot be reached or the topics do not exist by then.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("reqreply: no Kafka brokers")
	}
	if cfg.ReplicaID == "" || len(cfg.ReplicaID) > message.MaxIDLen {
		return nil, fmt.Errorf("reqreply: replica id must be 1 to %d bytes", message.MaxIDLen)
	}
	c := &Client{
		cfg:     cfg,
		client:  &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: cfg.Transport},
		waiting: map[string][]waiter{},
		readers: map[int]*kafka.Reader{},
	}
	c.writer = &kafka.Writer{
		Addr:     kafka.TCP(cfg.Brokers...),
		Topic:    cfg.RequestTopic,
		Balancer: &kafka.Hash{}, // key = session: one session's events stay in order
		// A lone request must not wait for a batch to fill (kafka-go's
		// default BatchTimeout is 1 s); concurrent requests still batch.
		BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll,
		BatchBytes:   message.MaxRecordBytes, // events carry PNGs of up to 2 MiB
		MaxAttempts:  3,
		WriteTimeout: 10 * time.Second,
		Transport:    cfg.Transport,
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	// Retry until ctx ends: a broker that is starting, or topics created a
	// moment ago, answer with errors for a while.
	for {
		err := c.follow(ctx)
		if err == nil {
			break
		}
		cfg.Logger.Info("reqreply: waiting for Kafka", "err", err)
		select {
		case <-ctx.Done():
			c.Close()
			return nil, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	c.wg.Add(1)
	go c.refresh()
	return c, nil
}

// ReplicaID returns the id this client puts in reply_to.
func (c *Client) ReplicaID() string { return c.cfg.ReplicaID }

// Do sends ev (whose ID must be set; ReplyTo and SentAt are filled in) and
// waits for its reply until ctx ends (ErrTimeout).
func (c *Client) Do(ctx context.Context, ev *message.CanvasEvent) (Reply, error) {
	ch, err := c.Send(ctx, ev)
	if err != nil {
		return Reply{}, err
	}
	return c.Wait(ctx, ev.ID, ch)
}

// Send produces ev and returns the channel its reply will come on; pass it
// to Wait. ev.ID must be set; ReplyTo and SentAt are filled in.
func (c *Client) Send(ctx context.Context, ev *message.CanvasEvent) (<-chan Reply, error) {
	if ev.ID == "" {
		return nil, errors.New("reqreply: event has no id")
	}
	ev.V = message.Version
	ev.ReplyTo = c.cfg.ReplicaID
	ev.SentAt = time.Now().UTC()
	value, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("reqreply: encode event %s: %w", ev.ID, err)
	}
	ch := make(chan Reply, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.waiting[ev.ID] = append(c.waiting[ev.ID], waiter{ch: ch, rev: revision(ev.Rev), session: ev.Session})
	c.mu.Unlock()

	start := time.Now()
	err = c.writer.WriteMessages(ctx, kafka.Message{Key: []byte(ev.Session), Value: value})
	if h := c.cfg.Hooks.Produced; h != nil {
		h(time.Since(start), err)
	}
	if err != nil {
		c.forget(ev.ID, ch)
		return nil, fmt.Errorf("reqreply: produce event %s to %s: %w", ev.ID, c.cfg.RequestTopic, err)
	}
	return ch, nil
}

// Wait waits for the reply to the event id that Send returned ch for.
func (c *Client) Wait(ctx context.Context, id string, ch <-chan Reply) (Reply, error) {
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		c.forget(id, ch)
		select { // it may have come just now
		case r := <-ch:
			return r, nil
		default:
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Reply{}, fmt.Errorf("%w: event %s", ErrTimeout, id)
		}
		return Reply{}, ctx.Err()
	case <-c.ctx.Done():
		return Reply{}, ErrClosed
	}
}

// forget removes one waiter.
func (c *Client) forget(id string, ch <-chan Reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.waiting[id]
	for i, w := range ws {
		if w.ch == ch {
			ws = slices.Delete(ws, i, i+1)
			break
		}
	}
	if len(ws) == 0 {
		delete(c.waiting, id)
	} else {
		c.waiting[id] = ws
	}
}

// deliver hands a reply to the oldest caller waiting for its id, rev and
// session; it reports false when nobody does.
func (c *Client) deliver(r Reply) bool {
	c.mu.Lock()
	ws := c.waiting[r.ID]
	i := slices.IndexFunc(ws, func(w waiter) bool { return w.rev == revision(r.Rev) && w.session == r.Session })
	if i < 0 {
		c.mu.Unlock()
		return false
	}
	ch := ws[i].ch
	if ws = slices.Delete(ws, i, i+1); len(ws) == 0 {
		delete(c.waiting, r.ID)
	} else {
		c.waiting[r.ID] = ws
	}
	c.mu.Unlock()
	ch <- r // buffered, and each channel gets one reply
	return true
}

// Waiting returns how many requests wait for their reply.
func (c *Client) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ws := range c.waiting {
		n += len(ws)
	}
	return n
}

// Check reports whether Kafka answers: a metadata request for the topics.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.replyPartitions(ctx)
	return err
}

// replyPartitions returns the reply partitions this replica must read.
func (c *Client) replyPartitions(ctx context.Context) ([]int, error) {
	res, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.cfg.RequestTopic, c.cfg.ReplyTopic}})
	if err != nil {
		return nil, fmt.Errorf("reqreply: Kafka metadata: %w", err)
	}
	var parts []int
	for _, t := range res.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("reqreply: topic %s: %w", t.Name, t.Error)
		}
		if t.Name != c.cfg.ReplyTopic {
			continue
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("reqreply: topic %s has no partitions", c.cfg.ReplyTopic)
	}
	slices.Sort(parts)
	if c.cfg.AllPartitions {
		return parts, nil
	}
	return []int{PartitionFor(c.cfg.ReplicaID, parts)}, nil
}

// PartitionFor is the reply partition of a replica id among partitions: the
// one the pipeline's reply write (kafka-go Hash, kafkaio.BalanceHash) puts
// records keyed by that id in.
func PartitionFor(replicaID string, partitions []int) int {
	return (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(replicaID)}, partitions...)
}

// follow starts a reader for each reply partition that has none.
func (c *Client) follow(ctx context.Context) error {
	parts, err := c.replyPartitions(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	var missing []int
	for _, p := range parts {
		if c.readers[p] == nil {
			missing = append(missing, p)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	// The end offsets, resolved now: a reply to any request sent from here
	// on lands after them.
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range missing {
		req.Topics[c.cfg.ReplyTopic] = append(req.Topics[c.cfg.ReplyTopic], kafka.LastOffsetOf(p))
	}
	res, err := c.client.ListOffsets(ctx, req)
	if err != nil {
		return fmt.Errorf("reqreply: end offsets of %s: %w", c.cfg.ReplyTopic, err)
	}
	for _, po := range res.Topics[c.cfg.ReplyTopic] {
		if po.Error != nil {
			return fmt.Errorf("reqreply: end offset of %s/%d: %w", c.cfg.ReplyTopic, po.Partition, po.Error)
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   c.cfg.Brokers,
			Topic:     c.cfg.ReplyTopic,
			Partition: po.Partition,
			Dialer:    c.cfg.Dialer,
			MinBytes:  1,
			MaxBytes:  message.MaxRecordBytes, // MinBytes without MaxBytes panics
			MaxWait:   c.cfg.FetchMaxWait,
			ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
				c.cfg.Logger.Warn("reqreply: kafka-go reader: "+fmt.Sprintf(msg, args...), "topic", c.cfg.ReplyTopic, "partition", po.Partition)
			}),
		})
		if err := r.SetOffset(po.LastOffset); err != nil {
			r.Close()
			return fmt.Errorf("reqreply: position reader of %s/%d: %w", c.cfg.ReplyTopic, po.Partition, err)
		}
		// Under the lock with the closed check: a reader started once Close
		// has taken the readers would be left open, and its goroutine would
		// race Close's Wait.
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			r.Close()
			return ErrClosed
		}
		c.readers[po.Partition] = r
		c.wg.Add(1)
		c.mu.Unlock()
		c.cfg.Logger.Info("reqreply: reading replies", "topic", c.cfg.ReplyTopic, "partition", po.Partition, "offset", po.LastOffset, "replica", c.cfg.ReplicaID)
		go c.read(r)
	}
	return nil
}

// read routes the replies of one partition until the client closes.
func (c *Client) read(r *kafka.Reader) {
	defer c.wg.Done()
	for {
		m, err := r.ReadMessage(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.cfg.Logger.Warn("reqreply: reading replies", "partition", r.Config().Partition, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if string(m.Key) != c.cfg.ReplicaID {
			continue // another replica's reply on a shared partition
		}
		var reply Reply
		if err := json.Unmarshal(m.Value, &reply); err != nil || reply.ID == "" {
			c.cfg.Logger.Warn("reqreply: unreadable reply", "partition", m.Partition, "offset", m.Offset, "err", err)
			continue
		}
		if !c.deliver(reply) {
			if h := c.cfg.Hooks.Unmatched; h != nil {
				h()
			}
		}
	}
}

// refresh follows new reply partitions (a topic that grew changes where
// this replica's key hashes to).
func (c *Client) refresh() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			if err := c.follow(ctx); err != nil && !errors.Is(err, ErrClosed) {
				c.cfg.Logger.Warn("reqreply: following the reply topic", "err", err)
			}
			cancel()
		}
	}
}

// Close stops reading and fails the requests still waiting (ErrClosed).
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	readers := slices.Collect(maps.Values(c.readers)) // follow adds no more
	c.mu.Unlock()
	c.cancel()
	var errs []error
	for _, r := range readers {
		errs = append(errs, r.Close())
	}
	c.wg.Wait()
	errs = append(errs, c.writer.Close())
	if t, ok := c.cfg.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
	return errors.Join(errs...)
}
