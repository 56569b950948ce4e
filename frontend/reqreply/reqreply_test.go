package reqreply

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stratusml/stratus/message"
)

// TestDeliverMatchesIDRevSession: a reply goes only to a caller waiting for
// the same id, revision and session, oldest first; anything else is
// unmatched and reaches nobody.
func TestDeliverMatchesIDRevSession(t *testing.T) {
	c := &Client{waiting: map[string][]waiter{}}
	wait := func(id string, rev int, session string) chan Reply {
		ch := make(chan Reply, 1)
		c.waiting[id] = append(c.waiting[id], waiter{ch: ch, rev: revision(rev), session: session})
		return ch
	}
	rev1 := wait("d1", 0, "alice") // an HTTP request: rev 0 means 1
	rev2 := wait("d1", 2, "alice")
	rev2again := wait("d1", 2, "alice")
	other := wait("d2", 1, "bob")
	for _, tc := range []struct {
		name  string
		reply Reply
		want  chan Reply // nil: unmatched
	}{
		{"forged session", Reply{ID: "d1", Rev: 2, Session: "mallory", Digits: "666"}, nil},
		{"no session", Reply{ID: "d1", Rev: 2, Digits: "666"}, nil},
		{"revision nobody waits for", Reply{ID: "d1", Rev: 3, Session: "alice"}, nil},
		{"unknown id", Reply{ID: "d9", Rev: 1, Session: "alice"}, nil},
		{"rev 2, oldest first", Reply{ID: "d1", Rev: 2, Session: "alice", Digits: "2"}, rev2},
		{"rev 2 again", Reply{ID: "d1", Rev: 2, Session: "alice", Digits: "2"}, rev2again},
		{"rev 2 a third time: a duplicate", Reply{ID: "d1", Rev: 2, Session: "alice"}, nil},
		{"rev 1 as 0", Reply{ID: "d1", Session: "alice", Digits: "1"}, rev1},
		{"rev 1 again: a duplicate", Reply{ID: "d1", Rev: 1, Session: "alice"}, nil},
		{"another drawing's session", Reply{ID: "d2", Rev: 1, Session: "alice"}, nil},
		{"bob's", Reply{ID: "d2", Rev: 1, Session: "bob", Digits: "5"}, other},
	} {
		got := c.deliver(tc.reply)
		if got != (tc.want != nil) {
			t.Errorf("%s: deliver = %v", tc.name, got)
			continue
		}
		if tc.want != nil {
			select {
			case r := <-tc.want:
				if r.Digits != tc.reply.Digits || r.Rev != tc.reply.Rev {
					t.Errorf("%s: the waiter got %+v", tc.name, r)
				}
			default:
				t.Errorf("%s: delivered, but not to its waiter", tc.name)
			}
		}
	}
	if n := len(c.waiting); n != 0 {
		t.Errorf("%d ids still waiting: %v", n, c.waiting)
	}
}

// TestForgedRepliesOnKafka: over a real Kafka-protocol broker (kfake, the
// embedded broker of `stratus up`), replies to this replica's key that name
// another session or another revision are counted and dropped, and the
// request is answered by its own reply only.
func TestForgedRepliesOnKafka(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, message.TopicCanvas, message.TopicPredictions))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]
	var unmatched atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := New(ctx, Config{Brokers: []string{broker}, ReplicaID: "replica-1", FetchMaxWait: 50 * time.Millisecond,
		Hooks: Hooks{Unmatched: func() { unmatched.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ev := &message.CanvasEvent{ID: "drawing-1", Rev: 2, Session: "alice"}
	ch, err := c.Send(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: message.TopicPredictions, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	send := func(p Reply) {
		t.Helper()
		b, _ := json.Marshal(p)
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("replica-1"), Value: b}); err != nil {
			t.Fatal(err)
		}
	}
	send(Reply{ID: "drawing-1", Rev: 2, Session: "mallory", Digits: "666"}) // forged session
	send(Reply{ID: "drawing-1", Rev: 1, Session: "alice", Digits: "1"})     // an older revision
	for deadline := time.Now().Add(30 * time.Second); unmatched.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("unmatched = %d after the two wrong replies, want 2", unmatched.Load())
		}
	}
	select {
	case r := <-ch:
		t.Fatalf("the request was answered by %+v", r)
	default:
	}
	send(Reply{ID: "drawing-1", Rev: 2, Session: "alice", Digits: "7"})
	r, err := c.Wait(ctx, ev.ID, ch)
	if err != nil || r.Digits != "7" || r.Rev != 2 {
		t.Fatalf("answer %+v, %v; want its own reply (7, rev 2)", r, err)
	}

	// A request that timed out: its late reply reaches nobody.
	late := &message.CanvasEvent{ID: "drawing-2", Session: "bob"}
	lch, err := c.Send(ctx, late)
	if err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 10*time.Millisecond)
	defer stop()
	if _, err := c.Wait(short, late.ID, lch); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Wait without a reply: %v, want ErrTimeout", err)
	}
	send(Reply{ID: "drawing-2", Session: "bob", Digits: "3"})
	for deadline := time.Now().Add(30 * time.Second); unmatched.Load() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the late reply was not counted as unmatched (%d)", unmatched.Load())
		}
	}
	if n := c.Waiting(); n != 0 {
		t.Errorf("%d requests still waiting", n)
	}
}

// TestCloseWhileFollowing: Close while a partition reader is being
// (re)started, as the refresh loop does when the reply topic grows, must
// not race on the readers (run with -race; Close used to range over the
// map after unlocking it while follow wrote to it).
func TestCloseWhileFollowing(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, message.TopicCanvas, message.TopicPredictions))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 10 {
		c, err := New(ctx, Config{Brokers: cluster.ListenAddrs(), ReplicaID: "replica-1", AllPartitions: true})
		if err != nil {
			t.Fatal(err)
		}
		// As if the topic had grown: every partition is missing a reader.
		c.mu.Lock()
		stale := c.readers
		c.readers = map[int]*kafka.Reader{}
		c.mu.Unlock()
		done := make(chan error, 1)
		go func() { done <- c.follow(ctx) }()
		time.Sleep(time.Duration(len(stale)) * time.Millisecond)
		c.Close()
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("follow during Close: %v", err)
		}
		for _, r := range stale {
			r.Close()
		}
	}
}
