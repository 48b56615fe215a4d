package cloudhash_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reactorkit/reactor/protocols/cloudhash"
)

func now() int64 { return time.Now().UnixMilli() }

func TestStoreBasics(t *testing.T) {
	st := cloudhash.NewStore(4, 0)
	n := now()
	tests := []struct {
		name string
		do   func() any
		want any
	}{
		{"set", func() any { return st.Set([]byte("a"), []byte("1"), 0, false, cloudhash.SetAlways, n) }, true},
		{"get", func() any { v, ok := st.AppendGet(nil, []byte("a"), n); return fmt.Sprintf("%s %v", v, ok) }, "1 true"},
		{"nx refused", func() any { return st.Set([]byte("a"), []byte("2"), 0, false, cloudhash.SetIfAbsent, n) }, false},
		{"xx refused", func() any { return st.Set([]byte("b"), []byte("2"), 0, false, cloudhash.SetIfPresent, n) }, false},
		{"incr", func() any { v, err := st.IncrBy([]byte("a"), 41, n); return fmt.Sprint(v, err) }, "42 <nil>"},
		{"overwrite in place keeps len right", func() any {
			st.Set([]byte("a"), []byte("xy"), 0, false, cloudhash.SetAlways, n)
			v, _ := st.AppendGet(nil, []byte("a"), n)
			return string(v)
		}, "xy"},
		{"len", func() any { return st.Len() }, int64(1)},
		{"delete", func() any { return st.Delete([]byte("a"), n) }, true},
		{"delete again", func() any { return st.Delete([]byte("a"), n) }, false},
		{"empty", func() any { return fmt.Sprint(st.Len(), st.UsedMemory()) }, "0 0"},
	}
	for _, tt := range tests {
		if got := tt.do(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestExpiryLazy: an expired key reads as absent and is removed when
// touched, even with active expiry off.
func TestExpiryLazy(t *testing.T) {
	s := startServer(t, cloudhash.WithExpiryInterval(0))
	rc := newRESPConn(t, s.RESPAddr())
	rc.do("SET", "k", "v", "PX", "30")
	rc.do("SET", "keep", "v")
	if got := rc.do("GET", "k"); got != "$1\r\nv\r\n" {
		t.Fatalf("before expiry: %q", got)
	}
	time.Sleep(60 * time.Millisecond)
	if got := rc.do("DBSIZE"); got != ":2\r\n" {
		t.Errorf("DBSIZE counts the expired key until it is touched, as Redis's does: %q", got)
	}
	for _, cmd := range [][]string{{"GET", "k"}, {"EXISTS", "k"}, {"TTL", "k"}, {"INCR", "k"}} {
		want := map[string]string{"GET": "$-1\r\n", "EXISTS": ":0\r\n", "TTL": ":-2\r\n", "INCR": ":1\r\n"}[cmd[0]]
		if got := rc.do(cmd...); got != want {
			t.Errorf("%v after expiry: %q, want %q", cmd, got, want)
		}
	}
	if got := rc.do("TTL", "k"); got != ":-1\r\n" {
		t.Errorf("INCR of an expired key makes a new key without expiry: TTL %q", got)
	}
}

// TestExpiryActive: keys nobody touches are removed by the loops' timers,
// so they do not pile up.
func TestExpiryActive(t *testing.T) {
	s := startServer(t, cloudhash.WithExpiryInterval(10*time.Millisecond))
	rdb := newGoRedis(t, s.RESPAddr().String())
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := range 5000 {
		pipe.Set(ctx, fmt.Sprint("t", i), "v", 50*time.Millisecond)
	}
	for i := range 100 {
		pipe.Set(ctx, fmt.Sprint("p", i), "v", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Store().Len() > 100 {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys left; active expiry did not remove the 5000 expired ones", s.Store().Len())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.Store().Expired(); got < 5000 {
		t.Errorf("Expired() = %d, want 5000", got)
	}
	if n := rdb.DBSize(ctx).Val(); n != 100 {
		t.Errorf("DBSIZE %d, want the 100 persistent keys", n)
	}
}

// TestMaxMemory: above the limit writes get Redis's OOM error on every
// protocol; reads and deletes work; after deleting, writes work again.
func TestMaxMemory(t *testing.T) {
	s := startServer(t, cloudhash.WithMaxMemory(64<<10))
	rdb := newGoRedis(t, s.RESPAddr().String())
	ctx := context.Background()
	big := strings.Repeat("x", 1000)
	var oom error
	i := 0
	for ; i < 1000; i++ {
		if oom = rdb.Set(ctx, fmt.Sprint("k", i), big, 0).Err(); oom != nil {
			break
		}
	}
	const text = "OOM command not allowed when used memory > 'maxmemory'."
	if oom == nil || oom.Error() != text {
		t.Fatalf("after %d keys: %v, want %q", i, oom, text)
	}
	if used := s.Store().UsedMemory(); used > 64<<10+2000 {
		t.Errorf("used %d bytes, more than one write past the limit", used)
	}
	if v := rdb.Get(ctx, "k0").Val(); v != big {
		t.Errorf("reads must work above maxmemory")
	}
	for _, err := range []error{rdb.Incr(ctx, "n").Err(), rdb.MSet(ctx, "x", "1").Err()} {
		if err == nil || err.Error() != text {
			t.Errorf("write above maxmemory: %v", err)
		}
	}
	// The seed protocols refuse too.
	l := dial(t, s.LineAddr())
	l.Write([]byte("SET a b\nGET k0\n"))
	l.Write([]byte("exit\n"))
	if got := string(readAll(t, l)); got != text+"\n"+big+"\n" {
		t.Errorf("line protocol above maxmemory: %.80q", got)
	}
	lp := dial(t, s.LengthAddr())
	lp.Write(lengthFrame("SET a b"))
	if got, isErr := readLengthAnswer(t, lp); !isErr || got != text {
		t.Errorf("length protocol above maxmemory: %q %v", got, isErr)
	}
	for j := range i {
		rdb.Del(ctx, fmt.Sprint("k", j))
	}
	if err := rdb.Set(ctx, "again", "1", 0).Err(); err != nil {
		t.Errorf("after deleting, writes must work again: %v", err)
	}
}

// TestConcurrentLoops runs many clients on every loop at once, mixing
// writes to shared keys with reads, under -race in CI.
func TestConcurrentLoops(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	const clients, rounds = 16, 200
	var wg sync.WaitGroup
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdb := redis.NewClient(&redis.Options{Addr: s.RESPAddr().String(), PoolSize: 2})
			defer rdb.Close()
			for i := range rounds {
				p := rdb.Pipeline()
				p.Incr(ctx, "shared")
				p.Set(ctx, fmt.Sprint("own", g, ":", i%10), i, time.Minute)
				p.Get(ctx, fmt.Sprint("own", (g+1)%clients, ":", i%10))
				p.MGet(ctx, "shared", fmt.Sprint("own", g, ":0"))
				p.Expire(ctx, "shared", time.Hour)
				if i%50 == 0 {
					p.Scan(ctx, 0, "own*", 100)
					p.DBSize(ctx)
				}
				if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
					t.Error(err)
					return
				}
			}
		}()
	}
	// The seed protocols at the same time, on the same keys.
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := cloudhash.Dial(ctx, s.LengthAddr().String(), cloudhash.WithFraming(cloudhash.FramingLength))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := range rounds {
				if err := c.Set(ctx, "seed", []byte(fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Get(ctx, "shared"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rc := newRESPConn(t, s.RESPAddr())
	if got, want := rc.do("GET", "shared"), fmt.Sprintf("$%d\r\n%d\r\n", len(fmt.Sprint(clients*rounds)), clients*rounds); got != want {
		t.Errorf("INCR from %d clients: %q, want %q", clients, got, want)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.snap")
	st := cloudhash.NewStore(8, 0)
	n := now()
	st.Set([]byte("plain"), []byte("v"), 0, false, cloudhash.SetAlways, n)
	st.Set([]byte("bin\x00key"), []byte("\x00\xff\r\n"), 0, false, cloudhash.SetAlways, n)
	st.Set([]byte("ttl"), []byte("t"), n+60_000, false, cloudhash.SetAlways, n)
	st.Set([]byte("gone"), []byte("g"), n+20, false, cloudhash.SetAlways, n)
	st.Set([]byte("empty"), nil, 0, false, cloudhash.SetAlways, n)
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	st2 := cloudhash.NewStore(2, 0)
	if err := st2.Load(path); err != nil {
		t.Fatal(err)
	}
	n = now()
	if st2.Len() != 4 {
		t.Errorf("loaded %d keys, want 4 (the expired one left out)", st2.Len())
	}
	for k, want := range map[string]string{"plain": "v", "bin\x00key": "\x00\xff\r\n", "ttl": "t", "empty": ""} {
		if v, ok := st2.AppendGet(nil, []byte(k), n); !ok || string(v) != want {
			t.Errorf("%q: %q %v", k, v, ok)
		}
	}
	if ttl := st2.TTL([]byte("ttl"), n); ttl < 50_000 || ttl > 60_000 {
		t.Errorf("expiry not kept: %d ms", ttl)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the snapshot", len(entries))
	}
	if err := cloudhash.NewStore(1, 0).Load(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestSnapshotCorruptRefused: a truncated, flipped or foreign file is
// refused whole, and a server will not start from it.
func TestSnapshotCorruptRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "good.snap")
	st := cloudhash.NewStore(4, 0)
	for i := range 100 {
		st.Set([]byte(fmt.Sprint("k", i)), []byte(strings.Repeat("v", i)), 0, false, cloudhash.SetAlways, now())
	}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 0x40
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated by one byte", good[:len(good)-1]},
		{"truncated to half", good[:len(good)/2]},
		{"truncated to the magic", good[:8]},
		{"empty", nil},
		{"one bit flipped", flip},
		{"not a snapshot", []byte("*1\r\n$4\r\nPING\r\n and some more bytes")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			os.WriteFile(p, tt.data, 0o600)
			st := cloudhash.NewStore(4, 0)
			st.Set([]byte("before"), []byte("x"), 0, false, cloudhash.SetAlways, now())
			err := st.Load(p)
			if !errors.Is(err, cloudhash.ErrCorruptSnapshot) {
				t.Fatalf("Load: %v, want ErrCorruptSnapshot", err)
			}
			if st.Len() != 1 {
				t.Errorf("a refused snapshot changed the store: %d keys", st.Len())
			}
			_, err = cloudhash.NewServer(cloudhash.WithDataFile(p), cloudhash.WithLineAddr(""), cloudhash.WithLengthAddr(""),
				cloudhash.WithRESPAddr("127.0.0.1:0"), cloudhash.WithLogger(quietLogger()))
			if !errors.Is(err, cloudhash.ErrCorruptSnapshot) || !strings.Contains(err.Error(), p) {
				t.Errorf("NewServer: %v, want ErrCorruptSnapshot naming the file", err)
			}
		})
	}
}

// TestSaveCommands: SAVE answers once the file is written, BGSAVE at once,
// and a graceful shutdown writes a last snapshot that a new server loads.
func TestSaveCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cloudhash.snap")
	s := startServer(t, cloudhash.WithDataFile(path))
	rc := newRESPConn(t, s.RESPAddr())
	rc.do("SET", "a", "1")
	if _, err := rc.c.Write([]byte("*1\r\n$4\r\nSAVE\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := rc.reply() + rc.reply(); got != "+OK\r\n$1\r\n1\r\n" {
		t.Errorf("SAVE then GET, pipelined: %q", got)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("SAVE wrote no file: %v", err)
	}
	rc.do("SET", "b", "2")
	if got := rc.do("BGSAVE"); got != "+Background saving started\r\n" {
		t.Errorf("BGSAVE: %q", got)
	}
	rc.do("SET", "c", "3")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, cloudhash.WithDataFile(path))
	if n := s2.Store().Len(); n != 3 {
		t.Errorf("restarted with %d keys, want 3", n)
	}
	nofile := startServer(t)
	if got := newRESPConn(t, nofile.RESPAddr()).do("SAVE"); !strings.HasPrefix(got, "-ERR no data file") {
		t.Errorf("SAVE without a data file: %q", got)
	}
}

func TestGlob(t *testing.T) {
	s := startServer(t)
	rc := newRESPConn(t, s.RESPAddr())
	keys := []string{"hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "a[b]", "user:1", "user:22", "x"}
	for _, k := range keys {
		rc.do("SET", k, "1")
	}
	tests := []struct{ pattern, want string }{
		{"h?llo", "h*llo hallo hello hxllo"},
		{"h*llo", "h*llo hallo heeeello hello hllo hxllo"},
		{"h[ae]llo", "hallo hello"},
		{"h[^e]llo", "h*llo hallo hxllo"},
		{"h[a-b]llo", "hallo"},
		{"h\\*llo", "h*llo"},
		{"user:?", "user:1"},
		{"user:*", "user:1 user:22"},
		{"a\\[b\\]", "a[b]"},
		{"*", strings.Join(sortedCopy(keys), " ")},
		{"nomatch*", ""},
	}
	for _, tt := range tests {
		got := rc.do("KEYS", tt.pattern)
		var found []string
		for _, line := range strings.Split(got, "\r\n") {
			if line != "" && line[0] != '*' && line[0] != '$' {
				found = append(found, line)
			}
		}
		if g := strings.Join(sortedCopy(found), " "); g != tt.want {
			t.Errorf("KEYS %q: %q, want %q", tt.pattern, g, tt.want)
		}
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}
