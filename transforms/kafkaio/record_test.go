package kafkaio

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/segmentio/kafka-go"
)

var sampleRecords = []Record{
	{},
	{Topic: "t", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(1_764_064_800_123).UTC()},
	{Topic: "stratus.canvas", Key: []byte{}, Value: nil, Headers: []Header{{Key: "a", Value: nil}, {Key: "a", Value: []byte{}}, {Key: "ü", Value: []byte{0, 1, 2}}}},
	{Offset: -1, Partition: -1, Value: bytes.Repeat([]byte("x"), 1<<20), Timestamp: time.UnixMilli(0).UTC().Add(time.Millisecond)},
}

func TestRecordCoderRoundTrip(t *testing.T) {
	for i, r := range sampleRecords {
		b, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("record %d round trip:\n got %+v\nwant %+v", i, got, r)
		}
	}
}

func TestRecordCoderRejectsDamage(t *testing.T) {
	b, _ := encodeRecord(sampleRecords[2])
	for n := 0; n < len(b); n++ {
		if _, err := decodeRecord(b[:n]); err == nil {
			t.Errorf("decoding the first %d of %d bytes succeeded", n, len(b))
		}
	}
	if _, err := decodeRecord(append(b, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("trailing byte: %v", err)
	}
	bad := append([]byte{9}, b[1:]...)
	if _, err := decodeRecord(bad); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("unknown version: %v", err)
	}
}

// Beam must pick the custom coder for Record, and the partition element must
// survive Beam's inferred coder.
func TestBeamCoders(t *testing.T) {
	if coder.LookupCustomCoder(recordType) == nil {
		t.Fatal("no custom coder registered for Record")
	}
	enc, dec := beam.NewElementEncoder(recordType), beam.NewElementDecoder(recordType)
	for i, r := range sampleRecords {
		var buf bytes.Buffer
		if err := enc.Encode(r, &buf); err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(&buf)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("record %d through Beam's coder: got %+v", i, got)
		}
	}

	pt := reflect.TypeOf(partitionStart{})
	ps := partitionStart{Topic: "stratus.canvas", Partition: 3, Start: 1 << 40}
	var buf bytes.Buffer
	if err := beam.NewElementEncoder(pt).Encode(ps, &buf); err != nil {
		t.Fatal(err)
	}
	got, err := beam.NewElementDecoder(pt).Decode(&buf)
	if err != nil || got != ps {
		t.Errorf("partitionStart round trip: %+v, %v", got, err)
	}
}

func TestRecordFromMessage(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 123_456_789, time.FixedZone("x", 3600))
	m := kafka.Message{Topic: "t", Partition: 2, Offset: 9, Key: []byte("k"), Value: []byte("v"), Time: ts,
		Headers: []kafka.Header{{Key: "h", Value: []byte("1")}}}
	r := recordFromMessage(m)
	want := Record{Topic: "t", Partition: 2, Offset: 9, Key: []byte("k"), Value: []byte("v"),
		Timestamp: time.UnixMilli(ts.UnixMilli()).UTC(), Headers: []Header{{Key: "h", Value: []byte("1")}}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	// Kafka's "no timestamp" (-1 ms) becomes the zero time.
	if r := recordFromMessage(kafka.Message{Time: time.UnixMilli(-1)}); !r.Timestamp.IsZero() {
		t.Errorf("timestamp -1 became %v", r.Timestamp)
	}
	back := want.message(true)
	if back.Topic != "t" || string(back.Key) != "k" || !back.Time.Equal(want.Timestamp) || len(back.Headers) != 1 {
		t.Errorf("message() = %+v", back)
	}
	if want.message(false).Topic != "" {
		t.Error("message(false) must leave the topic to the writer")
	}
}
