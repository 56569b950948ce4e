package localstore

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// The on-disk form of a store (OpenDir, URLs file://DIR): the same
// in-memory databases, with every document write appended to a journal
// file, DIR/store.journal (with Options.Prefix in front of the name), and replayed when the store is opened again.
//
// A record is
//
//	uint32 LE  length of the payload
//	uint32 LE  CRC-32 (Castagnoli) of the payload
//	payload    JSON {"db": "samples"|"models", "id": "…", "doc": {…}}
//	           or {"db": "…", "schema": true} once EnsureSchema ran
//
// Appends are write(2) calls, so a write is on disk (in the page cache)
// when put returns and survives the process being killed; the file is
// fsynced every syncEvery and on Close, as Kafka does by default. Opening
// replays every whole record and cuts off a torn last one. When the
// journal holds more than twice the live data (plus 64 MiB), it is
// rewritten with one record per live document. An exclusive flock keeps a
// second process from opening the same folder.

const (
	journalName = "store.journal"
	syncEvery   = 100 * time.Millisecond
	// defaultSlack is how far the journal may outgrow twice the live data
	// before it is compacted.
	defaultSlack = 64 << 20
	maxRecord    = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one journal entry.
type record struct {
	DB     string          `json:"db"`
	ID     string          `json:"id,omitempty"`
	Doc    json.RawMessage `json:"doc,omitempty"`
	Schema bool            `json:"schema,omitempty"`
}

// journal is an open journal file.
type journal struct {
	path string

	mu    sync.Mutex
	f     *os.File
	size  int64 // bytes in the file
	slack int64 // compaction threshold (defaultSlack; tests lower it)
	dirty bool  // written since the last fsync
	err   error // sticky: a failed write makes every later one fail

	stop chan struct{}
	done chan struct{}
}

// openJournal opens (creating) DIR/<prefix>store.journal, locks it, and
// replays it into the space's databases.
func openJournal(dir, prefix string, sp *space) (*journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("localstore: data folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, prefix+journalName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localstore: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("localstore: %s is in use by another process (%w)", path, err)
	}
	good, err := replay(f, sp)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("localstore: replay %s: %w", path, err)
	}
	for _, d := range sp.all() {
		if err := d.reindex(); err != nil {
			f.Close()
			return nil, fmt.Errorf("localstore: replay %s: %w", path, err)
		}
	}
	if err := f.Truncate(good); err != nil { // a torn last record
		f.Close()
		return nil, fmt.Errorf("localstore: truncate %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	j := &journal{path: path, f: f, size: good, slack: defaultSlack, stop: make(chan struct{}), done: make(chan struct{})}
	go j.syncLoop()
	return j, nil
}

// replay loads every whole record of f into sp's databases (their indexes
// are rebuilt afterwards: db.reindex) and returns the offset after the
// last one.
func replay(f *os.File, sp *space) (int64, error) {
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil // end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > maxRecord {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return off, nil
		}
		var rec record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return off, fmt.Errorf("record at %d: %w", off, err)
		}
		d := sp.byName(rec.DB)
		if d == nil {
			return off, fmt.Errorf("record at %d names database %q", off, rec.DB)
		}
		if rec.Schema {
			d.schema = true
		} else {
			d.load(rec.ID, rec.Doc)
		}
		off += int64(8 + n)
	}
}

// append writes one record.
func (j *journal) append(rec record) error {
	payload, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	buf := make([]byte, 8+len(payload))
	binary.LittleEndian.PutUint32(buf[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(payload, castagnoli))
	copy(buf[8:], payload)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.f == nil {
		return errors.New("localstore: the store is closed")
	}
	if _, err := j.f.Write(buf); err != nil {
		j.err = fmt.Errorf("localstore: write %s: %w", j.path, err)
		return j.err
	}
	j.size += int64(len(buf))
	j.dirty = true
	return nil
}

// syncLoop fsyncs what was written, every syncEvery.
func (j *journal) syncLoop() {
	defer close(j.done)
	t := time.NewTicker(syncEvery)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			_ = j.sync()
		}
	}
}

func (j *journal) sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.dirty || j.f == nil {
		return nil
	}
	j.dirty = false
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("localstore: fsync %s: %w", j.path, err)
		return j.err
	}
	return nil
}

// compact rewrites the journal with one record per live document when it
// has grown well past them. The caller holds every database's lock.
func (j *journal) compact(sp *space) error {
	live := int64(0)
	for _, d := range sp.all() {
		live += d.bytes + 64*int64(len(d.ids))
	}
	j.mu.Lock()
	size := j.size
	j.mu.Unlock()
	if size <= 2*live+j.slack {
		return nil
	}
	tmp := j.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("localstore: compact: %w", err)
	}
	w := &journal{path: tmp, f: f}
	for _, d := range sp.all() {
		if d.schema {
			if err := w.append(record{DB: d.name, Schema: true}); err != nil {
				f.Close()
				return err
			}
		}
		for _, id := range d.ids {
			if err := w.append(record{DB: d.name, ID: id, Doc: d.docs[id]}); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("localstore: compact: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("localstore: compact: lock: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		f.Close()
		return fmt.Errorf("localstore: compact: %w", err)
	}
	j.mu.Lock()
	old := j.f
	j.f, j.size, j.dirty = f, w.size, false
	j.mu.Unlock()
	return old.Close()
}

// close stops the syncer, fsyncs and closes the file.
func (j *journal) close() error {
	close(j.stop)
	<-j.done
	err := j.sync()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		err = errors.Join(err, j.f.Close())
		j.f = nil
	}
	return err
}
