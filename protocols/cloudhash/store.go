package cloudhash

import (
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactorkit/reactor/codec"
)

// entryOverhead is what the store counts for one key besides the bytes of
// the key and the value: the map slot, the entry and the slice and string
// headers. It is an estimate; maxmemory compares it plus those bytes with
// the limit.
const entryOverhead = 64

// entry is one key's value. Entries are reached only through their shard's
// map, under the shard's lock.
type entry struct {
	val []byte // the value; may be rewritten in place under the shard's write lock
	exp int64  // expiry in Unix milliseconds; 0: none
}

// shard is one lock's share of the keys.
type shard struct {
	mu sync.RWMutex
	// m holds every key of the shard, guarded by mu.
	m map[string]*entry
	// volatile holds the keys of m that have an expiry, for active
	// expiry's sampling; guarded by mu.
	volatile map[string]*entry

	_ [64]byte // keeps neighbouring shards' locks off one cache line
}

// Store is CloudHash's key space: keys and byte-string values with optional
// expiry, spread over shards that each have their own lock, so commands on
// different keys from different event loops rarely wait for each other.
// Every method is goroutine-safe.
//
// Values handed out are copies (appended to a caller's buffer); values
// passed in are copied, so callers may reuse their slices.
//
// Time is passed in as Unix milliseconds (now) by the callers that do many
// operations per read, so the clock is read once per batch; an expired key
// is treated as absent and removed when it is touched (lazy expiry), and
// ExpireCycle removes the ones nobody touches (active expiry).
type Store struct {
	seed   maphash.Seed // immutable
	shards []shard      // immutable slice; each shard guarded by its mu
	mask   uint64       // len(shards)-1; immutable

	maxMemory int64 // 0: no limit; immutable

	used     atomic.Int64 // estimated bytes held: keys, values, overhead
	keys     atomic.Int64 // keys held, expired-but-not-removed included
	volatile atomic.Int64 // keys with an expiry

	expired atomic.Int64 // keys removed because they expired, for INFO
}

// NewStore returns an empty store with at least shards shards (rounded up
// to a power of two; 0 or less means DefaultShards) and maxMemory bytes as
// the limit above which writes are refused (0: no limit).
func NewStore(shards int, maxMemory int64) *Store {
	if shards <= 0 {
		shards = DefaultShards
	}
	n := 1
	for n < shards {
		n <<= 1
	}
	s := &Store{seed: maphash.MakeSeed(), shards: make([]shard, n), mask: uint64(n - 1), maxMemory: max(maxMemory, 0)}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
		s.shards[i].volatile = make(map[string]*entry)
	}
	return s
}

// nowMillis is the wall clock as the store counts it.
func nowMillis() int64 { return time.Now().UnixMilli() }

func (s *Store) shardOf(key []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, key)&s.mask]
}

func entrySize(key string, val []byte) int64 {
	return int64(len(key) + cap(val) + entryOverhead)
}

// OverMemory reports whether the store holds more than its maxmemory, when
// Redis refuses commands that may grow the data set.
func (s *Store) OverMemory() bool {
	return s.maxMemory > 0 && s.used.Load() > s.maxMemory
}

// MaxMemory returns the limit given to NewStore (0: none).
func (s *Store) MaxMemory() int64 { return s.maxMemory }

// UsedMemory returns the store's estimate of the bytes it holds.
func (s *Store) UsedMemory() int64 { return s.used.Load() }

// Len returns the number of keys, counting expired keys not yet removed,
// as Redis's DBSIZE does.
func (s *Store) Len() int64 { return s.keys.Load() }

// Expired returns how many keys were removed because they expired.
func (s *Store) Expired() int64 { return s.expired.Load() }

// live returns key's entry unless it is absent or expired; mu held for
// reading or writing.
func (sh *shard) live(key []byte, now int64) *entry {
	e := sh.m[string(key)]
	if e == nil || (e.exp != 0 && e.exp <= now) {
		return nil
	}
	return e
}

// removeExpired deletes key if it has expired; mu held for writing.
func (s *Store) removeExpired(sh *shard, key []byte, now int64) {
	if e := sh.m[string(key)]; e != nil && e.exp != 0 && e.exp <= now {
		s.remove(sh, string(key), e)
		s.expired.Add(1)
	}
}

// remove deletes key from the shard; mu held for writing.
func (s *Store) remove(sh *shard, key string, e *entry) {
	delete(sh.m, key)
	if e.exp != 0 {
		delete(sh.volatile, key)
		s.volatile.Add(-1)
	}
	s.keys.Add(-1)
	s.used.Add(-entrySize(key, e.val))
}

// setExp changes an entry's expiry and keeps the volatile set in step; mu
// held for writing; key must be the map's own key string.
func (s *Store) setExp(sh *shard, key string, e *entry, exp int64) {
	switch {
	case e.exp == 0 && exp != 0:
		sh.volatile[key] = e
		s.volatile.Add(1)
	case e.exp != 0 && exp == 0:
		delete(sh.volatile, key)
		s.volatile.Add(-1)
	}
	e.exp = exp
}

// AppendGet appends key's value to dst and reports whether the key exists.
func (s *Store) AppendGet(dst, key []byte, now int64) ([]byte, bool) {
	sh := s.shardOf(key)
	sh.mu.RLock()
	e := sh.m[string(key)]
	if e == nil {
		sh.mu.RUnlock()
		return dst, false
	}
	if e.exp != 0 && e.exp <= now {
		sh.mu.RUnlock()
		sh.mu.Lock()
		s.removeExpired(sh, key, now)
		sh.mu.Unlock()
		return dst, false
	}
	dst = append(dst, e.val...)
	sh.mu.RUnlock()
	return dst, true
}

// AppendGetBulk appends key's value to dst as a RESP bulk string, or the
// null bulk string when the key is absent, holding the lock once.
func (s *Store) AppendGetBulk(dst, key []byte, now int64) []byte {
	sh := s.shardOf(key)
	sh.mu.RLock()
	e := sh.m[string(key)]
	if e == nil {
		sh.mu.RUnlock()
		return append(dst, "$-1\r\n"...)
	}
	if e.exp != 0 && e.exp <= now {
		sh.mu.RUnlock()
		sh.mu.Lock()
		s.removeExpired(sh, key, now)
		sh.mu.Unlock()
		return append(dst, "$-1\r\n"...)
	}
	dst = strconv.AppendInt(append(dst, '$'), int64(len(e.val)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, e.val...)
	sh.mu.RUnlock()
	return append(dst, '\r', '\n')
}

// SetMode says what Set requires of the key's current state.
type SetMode uint8

// The conditions of Set, as SET's NX and XX options.
const (
	SetAlways    SetMode = iota // store whatever the key holds
	SetIfAbsent                 // NX: only if the key does not exist
	SetIfPresent                // XX: only if the key exists
)

// Set stores val under key with expiry exp (Unix ms; 0: none; keepTTL
// keeps the key's current expiry instead) if mode allows, and reports
// whether it stored. The value is copied.
func (s *Store) Set(key, val []byte, exp int64, keepTTL bool, mode SetMode, now int64) bool {
	sh := s.shardOf(key)
	sh.mu.Lock()
	ok := s.setLocked(sh, key, val, exp, keepTTL, mode, now)
	sh.mu.Unlock()
	return ok
}

// SetGet is Set that also appends the key's previous value to dst as a
// RESP bulk string (the null bulk string if it had none), as SET … GET
// replies, and reports whether it stored.
func (s *Store) SetGet(dst, key, val []byte, exp int64, keepTTL bool, mode SetMode, now int64) ([]byte, bool) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.live(key, now); e != nil {
		dst = strconv.AppendInt(append(dst, '$'), int64(len(e.val)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, e.val...)
		dst = append(dst, '\r', '\n')
	} else {
		dst = append(dst, "$-1\r\n"...)
	}
	return dst, s.setLocked(sh, key, val, exp, keepTTL, mode, now)
}

// setLocked is Set with the shard's lock held for writing.
func (s *Store) setLocked(sh *shard, key, val []byte, exp int64, keepTTL bool, mode SetMode, now int64) bool {
	e := sh.m[string(key)] // one lookup serves the expiry check and the set
	if e != nil && e.exp != 0 && e.exp <= now {
		s.remove(sh, string(key), e)
		s.expired.Add(1)
		e = nil
	}
	switch {
	case mode == SetIfAbsent && e != nil, mode == SetIfPresent && e == nil:
		return false
	case e == nil:
		k := string(key)
		e = &entry{val: append(make([]byte, 0, len(val)), val...)}
		sh.m[k] = e
		s.keys.Add(1)
		s.used.Add(entrySize(k, e.val))
		if exp != 0 {
			s.setExp(sh, k, e, exp)
		}
		return true
	}
	old := int64(cap(e.val))
	if cap(e.val) >= len(val) && cap(e.val) <= 2*len(val)+16 {
		// Overwrite in place: readers copy values under the lock, so no
		// one holds the old bytes.
		e.val = append(e.val[:0], val...)
	} else {
		e.val = append(make([]byte, 0, len(val)), val...)
	}
	if d := int64(cap(e.val)) - old; d != 0 {
		s.used.Add(d) // skipped when unchanged: a shared cache line
	}
	if !keepTTL && (e.exp != 0 || exp != 0) {
		s.setExp(sh, string(key), e, exp)
	}
	return true
}

// Delete removes key and reports whether it existed (expired keys do not
// count).
func (s *Store) Delete(key []byte, now int64) bool {
	sh := s.shardOf(key)
	sh.mu.Lock()
	s.removeExpired(sh, key, now)
	e := sh.m[string(key)]
	if e != nil {
		s.remove(sh, string(key), e)
	}
	sh.mu.Unlock()
	return e != nil
}

// Exists reports whether key exists.
func (s *Store) Exists(key []byte, now int64) bool {
	sh := s.shardOf(key)
	sh.mu.RLock()
	e := sh.live(key, now)
	sh.mu.RUnlock()
	return e != nil
}

// IncrBy adds delta to the integer stored at key (0 when absent), keeping
// its expiry, and returns the result. It fails with errNotInteger when the
// value is not a base-10 64-bit integer and errOverflow when the sum
// overflows.
func (s *Store) IncrBy(key []byte, delta int64, now int64) (int64, error) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.removeExpired(sh, key, now)
	e := sh.m[string(key)]
	var cur int64
	if e != nil {
		v, ok := codec.ParseInt(e.val)
		if !ok {
			return 0, errNotInteger
		}
		cur = v
	}
	if (delta > 0 && cur > maxInt64-delta) || (delta < 0 && cur < minInt64-delta) {
		return 0, errOverflow
	}
	cur += delta
	var buf [20]byte
	s.setLocked(sh, key, strconv.AppendInt(buf[:0], cur, 10), 0, true, SetAlways, now)
	return cur, nil
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)

// Expire sets key's expiry to exp (Unix ms) under cond and reports whether
// it did; an exp at or before now deletes the key (reporting true).
func (s *Store) Expire(key []byte, exp int64, cond ExpireCond, now int64) bool {
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.removeExpired(sh, key, now)
	e := sh.m[string(key)]
	if e == nil {
		return false
	}
	// A key without expiry counts as expiring never: GT never holds for
	// it, LT always does (Redis's expireGenericCommand).
	switch cond {
	case ExpireIfNone:
		if e.exp != 0 {
			return false
		}
	case ExpireIfSet:
		if e.exp == 0 {
			return false
		}
	case ExpireIfGreater:
		if e.exp == 0 || exp <= e.exp {
			return false
		}
	case ExpireIfLess:
		if e.exp != 0 && exp >= e.exp {
			return false
		}
	}
	if exp <= now {
		s.remove(sh, string(key), e)
		return true
	}
	s.setExp(sh, string(key), e, exp)
	return true
}

// ExpireCond is EXPIRE's condition option.
type ExpireCond uint8

// The conditions of Expire, as EXPIRE's options.
const (
	ExpireAlways    ExpireCond = iota
	ExpireIfNone               // NX: only if the key has no expiry
	ExpireIfSet                // XX: only if the key has an expiry
	ExpireIfGreater            // GT: only if the new expiry is later
	ExpireIfLess               // LT: only if the new expiry is sooner
)

// TTL returns key's remaining time to live in milliseconds, -1 for a key
// without expiry and -2 for a missing key, as PTTL answers.
func (s *Store) TTL(key []byte, now int64) int64 {
	sh := s.shardOf(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.live(key, now)
	switch {
	case e == nil:
		return -2
	case e.exp == 0:
		return -1
	}
	return e.exp - now
}

// Flush removes every key.
func (s *Store) Flush() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			s.remove(sh, k, e)
		}
		sh.mu.Unlock()
	}
}

// ScanShards appends to keys the live keys of shards from cursor on,
// stopping after the shard that brings the count to at least count, and
// returns the cursor to continue from (0 when every shard has been
// visited). match, when not nil, filters keys with Redis's glob rules.
// Every key present from the first call to the last is returned at least
// once, as Redis's SCAN guarantees; a shard is visited whole.
func (s *Store) ScanShards(keys [][]byte, cursor uint64, count int, match []byte, now int64) ([][]byte, uint64) {
	found := 0
	for cursor < uint64(len(s.shards)) {
		sh := &s.shards[cursor]
		cursor++
		sh.mu.RLock()
		for k, e := range sh.m {
			if e.exp != 0 && e.exp <= now {
				continue
			}
			if match != nil && !globMatch(match, []byte(k)) {
				continue
			}
			keys = append(keys, []byte(k))
			found++
		}
		sh.mu.RUnlock()
		if found >= count {
			break
		}
	}
	if cursor >= uint64(len(s.shards)) {
		cursor = 0
	}
	return keys, cursor
}

// ShardCount returns the number of shards, the range of SCAN cursors.
func (s *Store) ShardCount() int { return len(s.shards) }

// Active expiry, after Redis's activeExpireCycle: sample a few keys that
// have an expiry, remove the expired ones, and go on while a sample finds
// many expired, within a time budget.
const (
	expireSample    = 20 // keys looked at per shard per round
	expireRepeatPct = 25 // another round while more than this share expired
)

// ExpireCycle runs one active-expiry pass over the shards i with
// i%stride == offset, spending at most budget, and returns how many keys
// it removed. Event loops call it from a timer, each with its own offset,
// so the shards are shared out among them.
func (s *Store) ExpireCycle(offset, stride int, budget time.Duration, now int64) int {
	if s.volatile.Load() == 0 {
		return 0
	}
	start := time.Now()
	removed := 0
	var doomed []string
	for i := offset; i < len(s.shards); i += stride {
		sh := &s.shards[i]
		for {
			sh.mu.Lock()
			if len(sh.volatile) == 0 {
				sh.mu.Unlock()
				break
			}
			doomed = doomed[:0]
			seen := 0
			for k, e := range sh.volatile {
				if e.exp <= now {
					doomed = append(doomed, k)
				}
				seen++
				if seen == expireSample {
					break
				}
			}
			for _, k := range doomed {
				s.remove(sh, k, sh.m[k])
			}
			sh.mu.Unlock()
			removed += len(doomed)
			s.expired.Add(int64(len(doomed)))
			if len(doomed)*100 <= seen*expireRepeatPct || time.Since(start) > budget {
				break
			}
		}
		if time.Since(start) > budget {
			break
		}
	}
	return removed
}
