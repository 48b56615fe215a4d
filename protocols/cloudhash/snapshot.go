package cloudhash

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// Snapshot file format, version 1. All integers little-endian.
//
//	magic    8 bytes  "CHSNAP01"
//	entries  repeated:
//	           key length    uvarint
//	           key           bytes
//	           value length  uvarint
//	           value         bytes
//	           expiry        uvarint, Unix milliseconds, 0 for none
//	count    8 bytes  number of entries
//	crc      4 bytes  CRC-32C (Castagnoli) of everything before it
//
// The count and checksum come last so the file can be written in one pass
// over the shards. A file that is short, has another magic, a checksum
// that does not match, or entries that do not add up to count is refused
// whole: Load never leaves a partial data set behind.
const snapshotMagic = "CHSNAP01"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes a snapshot of the store's live keys to path atomically: into
// a temporary file in the same directory, fsynced, then renamed over path,
// and the directory fsynced, so a crash leaves either the old file or the
// new one. Each shard is copied under its read lock, one at a time; the
// disk writes happen outside the locks. It blocks: call it off the event
// loops.
func (s *Store) Save(path string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("cloudhash: save: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("cloudhash: save %s: %w", path, err)
		}
	}()
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 256<<10)
	if _, err := w.WriteString(snapshotMagic); err != nil {
		return err
	}
	now := nowMillis()
	var count uint64
	var buf []byte
	for i := range s.shards {
		buf, count = s.shards[i].encode(buf[:0], count, now)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	var tail [8]byte
	binary.LittleEndian.PutUint64(tail[:], count)
	if _, err := w.Write(tail[:]); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := f.Write(sum[:]); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// rename(2) is durable only once the directory is synced.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// encode appends the shard's live entries to buf under its read lock and
// returns buf and count increased by the entries appended.
func (sh *shard) encode(buf []byte, count uint64, now int64) ([]byte, uint64) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for k, e := range sh.m {
		if e.exp != 0 && e.exp <= now {
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(e.val)))
		buf = append(buf, e.val...)
		buf = binary.AppendUvarint(buf, uint64(e.exp))
		count++
	}
	return buf, count
}

// Load replaces the store's contents with the snapshot in path, leaving out
// keys that have expired since. A missing file is not an error: the store
// stays as it is and Load returns an error matching fs.ErrNotExist, which the
// caller may ignore. A damaged file is refused with an error matching
// ErrCorruptSnapshot, and the store is left as it was.
func (s *Store) Load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cloudhash: load: %w", err)
	}
	corrupt := func(why string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorruptSnapshot, path, fmt.Sprintf(why, args...))
	}
	if len(data) < len(snapshotMagic)+8+4 {
		return corrupt("%d bytes is too short to be a snapshot (truncated?)", len(data))
	}
	if string(data[:len(snapshotMagic)]) != snapshotMagic {
		return corrupt("not a CloudHash snapshot (bad magic %q)", data[:len(snapshotMagic)])
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return corrupt("checksum mismatch (stored %08x, computed %08x): truncated or damaged", sum, got)
	}
	count := binary.LittleEndian.Uint64(body[len(body)-8:])
	p := body[len(snapshotMagic) : len(body)-8]
	type kv struct {
		key, val []byte
		exp      int64
	}
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, false
		}
		b := p[k : k+int(n)]
		p = p[k+int(n):]
		return b, true
	}
	entries := make([]kv, 0, min(count, uint64(len(p))/3))
	for len(p) > 0 {
		key, ok := field()
		if !ok {
			return corrupt("entry %d: bad key", len(entries))
		}
		val, ok := field()
		if !ok {
			return corrupt("entry %d: bad value", len(entries))
		}
		exp, k := binary.Uvarint(p)
		if k <= 0 || exp > maxInt64 {
			return corrupt("entry %d: bad expiry", len(entries))
		}
		p = p[k:]
		entries = append(entries, kv{key, val, int64(exp)})
	}
	if uint64(len(entries)) != count {
		return corrupt("%d entries, header says %d", len(entries), count)
	}
	s.Flush()
	now := nowMillis()
	for _, e := range entries {
		if e.exp != 0 && e.exp <= now {
			continue
		}
		s.Set(e.key, e.val, e.exp, false, SetAlways, now)
	}
	return nil
}
