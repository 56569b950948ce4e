package kafkaio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/segmentio/kafka-go"
)

func init() {
	// A custom coder: compact, keeps nil and empty slices apart, and carries
	// the timestamp at Kafka's millisecond precision (the schema coder Beam
	// would otherwise infer cannot encode time.Time).
	beam.RegisterCoder(reflect.TypeOf((*Record)(nil)).Elem(), encodeRecord, decodeRecord)
}

// Record is one Kafka record, as Read emits it and as Write accepts it.
type Record struct {
	// Topic the record was read from; for Write, the destination when
	// WriteConfig.Topic is empty.
	Topic string
	// Partition the record was read from (ignored by Write: the balancer
	// picks the partition from the key).
	Partition int
	// Offset of the record in its partition (ignored by Write).
	Offset int64
	// Key and Value are the record's bytes; either may be nil.
	Key, Value []byte
	// Timestamp is the record's timestamp (CreateTime or LogAppendTime, as
	// the topic is configured), at millisecond precision, in UTC. The zero
	// time means none; Write then lets the producer stamp the current time.
	Timestamp time.Time
	// Headers are the record's headers, in order.
	Headers []Header
}

// Header is one record header. Kafka allows repeated keys.
type Header struct {
	Key   string
	Value []byte
}

// recordFromMessage converts a fetched kafka-go message.
func recordFromMessage(m kafka.Message) Record {
	r := Record{
		Topic:     m.Topic,
		Partition: m.Partition,
		Offset:    m.Offset,
		Key:       m.Key,
		Value:     m.Value,
	}
	if !m.Time.IsZero() && m.Time.UnixMilli() >= 0 {
		r.Timestamp = time.UnixMilli(m.Time.UnixMilli()).UTC()
	}
	if len(m.Headers) > 0 {
		r.Headers = make([]Header, len(m.Headers))
		for i, h := range m.Headers {
			r.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

// message converts r for kafka-go's Writer; topic is left empty when the
// writer has a fixed topic.
func (r Record) message(withTopic bool) kafka.Message {
	m := kafka.Message{Key: r.Key, Value: r.Value, Time: r.Timestamp}
	if withTopic {
		m.Topic = r.Topic
	}
	if len(r.Headers) > 0 {
		m.Headers = make([]kafka.Header, len(r.Headers))
		for i, h := range r.Headers {
			m.Headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
		}
	}
	return m
}

// Wire format of the Record coder (version 1):
//
//	byte    version (1)
//	uvarint len(Topic)+Topic
//	varint  Partition
//	varint  Offset
//	bytes   Key, Value          (uvarint 0 = nil, else uvarint len+1, data)
//	varint  Timestamp ms        (math.MinInt64 = zero time)
//	uvarint len(Headers)
//	per header: uvarint len(Key)+Key, bytes Value
const recordCoderVersion = 1

const noTimestamp = math.MinInt64

func encodeRecord(r Record) ([]byte, error) {
	n := 1 + 3*binary.MaxVarintLen64 + len(r.Topic) + len(r.Key) + len(r.Value) + 4*binary.MaxVarintLen64
	for _, h := range r.Headers {
		n += 3*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, recordCoderVersion)
	b = appendString(b, r.Topic)
	b = binary.AppendVarint(b, int64(r.Partition))
	b = binary.AppendVarint(b, r.Offset)
	b = appendBytes(b, r.Key)
	b = appendBytes(b, r.Value)
	ts := int64(noTimestamp)
	if !r.Timestamp.IsZero() {
		ts = r.Timestamp.UnixMilli()
	}
	b = binary.AppendVarint(b, ts)
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = appendString(b, h.Key)
		b = appendBytes(b, h.Value)
	}
	return b, nil
}

func decodeRecord(b []byte) (Record, error) {
	d := decoder{b: b}
	var r Record
	if v := d.byte(); d.err == nil && v != recordCoderVersion {
		return Record{}, fmt.Errorf("kafkaio: decoding Record: unknown coder version %d", v)
	}
	r.Topic = d.string()
	r.Partition = int(d.varint())
	r.Offset = d.varint()
	r.Key = d.bytes()
	r.Value = d.bytes()
	if ts := d.varint(); ts != noTimestamp {
		r.Timestamp = time.UnixMilli(ts).UTC()
	}
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) { // each header takes at least two bytes
			return Record{}, fmt.Errorf("kafkaio: decoding Record: %d headers in %d bytes", n, len(d.b))
		}
		r.Headers = make([]Header, n)
		for i := range r.Headers {
			r.Headers[i].Key = d.string()
			r.Headers[i].Value = d.bytes()
		}
	}
	if d.err != nil {
		return Record{}, fmt.Errorf("kafkaio: decoding Record: %w", d.err)
	}
	if len(d.b) != 0 {
		return Record{}, fmt.Errorf("kafkaio: decoding Record: %d trailing bytes", len(d.b))
	}
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBytes keeps nil and empty apart: 0 is nil, n+1 is n bytes.
func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

var errShort = errors.New("truncated input")

// decoder reads the Record wire format; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := make([]byte, n)
	copy(v, d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	return string(d.take(n))
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	return d.take(n - 1)
}
