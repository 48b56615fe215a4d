package cloudhash_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reactorkit/reactor/protocols/cloudhash"
)

// redisCLI runs redis-cli against addr's port with args and returns its
// output (raw format, since stdout is not a terminal).
func redisCLI(t *testing.T, bin, port string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestRedisCLI runs each RESP command of the subset through redis-cli.
// Where a real redis-server is installed, the output must be the same as
// its; commands that describe the server are checked for their shape.
func TestRedisCLI(t *testing.T) {
	cli := tool(t, "redis-cli", "redis-tools")
	redisAddr := startRedis(t)
	s := startServer(t)
	ours, theirs := port(s.RESPAddr()), port(redisAddr)
	same := [][]string{
		{"PING"}, {"PING", "hi"}, {"ECHO", "hello world"},
		{"SET", "k", "v"}, {"GET", "k"}, {"GET", "missing"},
		{"SET", "k", "v2", "EX", "100"}, {"TTL", "k"}, {"SET", "k", "v3", "PX", "100000", "XX"}, {"SET", "k", "v4", "NX"},
		{"SET", "fresh", "1", "NX"}, {"SET", "absent", "1", "XX"}, {"EXISTS", "k", "fresh", "nope"},
		{"DEL", "fresh", "nope"}, {"INCR", "n"}, {"INCRBY", "n", "41"}, {"DECR", "n"}, {"GET", "n"},
		{"MSET", "a", "1", "b", "2"}, {"MGET", "a", "b", "c"}, {"EXPIRE", "a", "50"}, {"TTL", "a"},
		{"PEXPIRE", "b", "50000"}, {"TTL", "b"}, {"PTTL", "nope"}, {"DBSIZE"}, {"SELECT", "0"},
		{"CLIENT", "SETNAME", "cli"}, {"AUTH", "pw"}, {"INCR", "k"}, {"NOSUCH", "x"}, {"FLUSHDB"}, {"DBSIZE"},
		{"SET", "z", "1"}, {"FLUSHALL"}, {"DBSIZE"}, {"QUIT"},
	}
	for _, args := range same {
		want := redisCLI(t, cli, theirs, args...)
		got := redisCLI(t, cli, ours, args...)
		if got != want {
			t.Errorf("redis-cli %q:\n  redis:     %q\n  cloudhash: %q", args, want, got)
		}
	}
	redisCLI(t, cli, ours, "MSET", "scan:1", "a", "scan:2", "b", "other", "c")
	shaped := []struct {
		args []string
		ok   func(string) bool
	}{
		{[]string{"SCAN", "0", "MATCH", "scan:*", "COUNT", "1000"}, func(o string) bool {
			lines := strings.Fields(o)
			sort.Strings(lines)
			return strings.Join(lines, " ") == "0 scan:1 scan:2"
		}},
		{[]string{"INFO"}, func(o string) bool {
			return strings.Contains(o, "redis_version:") && strings.Contains(o, "# Keyspace") && strings.Contains(o, "db0:keys=3")
		}},
		{[]string{"CONFIG", "GET", "save"}, func(o string) bool { return o == "save\n\n" }},
		{[]string{"CONFIG", "GET", "appendonly"}, func(o string) bool { return o == "appendonly\nno\n" }},
		{[]string{"COMMAND", "COUNT"}, func(o string) bool { return strings.TrimSpace(o) != "" && !strings.HasPrefix(o, "ERR") }},
		{[]string{"COMMAND"}, func(o string) bool { return strings.Contains(o, "\nget\n") || strings.HasPrefix(o, "get\n") }},
		{[]string{"COMMAND", "DOCS", "get"}, func(o string) bool { return strings.Contains(o, "summary") }},
		{[]string{"HELLO", "3"}, func(o string) bool {
			return strings.HasPrefix(o, "NOPROTO sorry, this protocol version is not supported")
		}},
		{[]string{"HELLO", "2"}, func(o string) bool { return strings.Contains(o, "proto\n2\n") }},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "redis-cli"}, func(o string) bool { return o == "OK\n" }},
	}
	for _, sh := range shaped {
		if got := redisCLI(t, cli, ours, sh.args...); !sh.ok(got) {
			t.Errorf("redis-cli %q: unexpected output %q", sh.args, got)
		}
	}
	// redis-cli reading commands from stdin, as scripts use it.
	cmd := exec.Command(cli, "-h", "127.0.0.1", "-p", ours)
	cmd.Stdin = strings.NewReader("SET piped yes\nGET piped\n")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "OK\nyes\n" {
		t.Errorf("redis-cli from stdin: %q, %v", out, err)
	}
	// With a password.
	sp := startServer(t, cloudhash.WithPassword("pw"))
	if got := redisCLI(t, cli, port(sp.RESPAddr()), "--no-auth-warning", "-a", "pw", "PING"); got != "PONG\n" {
		t.Errorf("redis-cli -a: %q", got)
	}
	if got := redisCLI(t, cli, port(sp.RESPAddr()), "PING"); !strings.HasPrefix(got, "NOAUTH") {
		t.Errorf("redis-cli without password: %q", got)
	}
}

// TestRedisBenchmark runs redis-benchmark's default commands and wants no
// errors.
func TestRedisBenchmark(t *testing.T) {
	bench := tool(t, "redis-benchmark", "redis-tools")
	s := startServer(t)
	n := "100000"
	if testing.Short() {
		n = "10000"
	}
	for _, pipeline := range []string{"1", "16"} {
		cmd := exec.Command(bench, "-h", "127.0.0.1", "-p", port(s.RESPAddr()), "-q", "-n", n, "-P", pipeline, "-t", "ping,set,get,incr,mset")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-benchmark -P %s: %v\n%s", pipeline, err, out)
		}
		text := string(out)
		for _, test := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"} {
			if !strings.Contains(text, test+": ") && !strings.Contains(text, test+" (10 keys): ") {
				t.Errorf("-P %s: no result for %s in:\n%s", pipeline, test, text)
			}
		}
		if strings.Contains(strings.ToLower(text), "error") {
			t.Errorf("-P %s: errors:\n%s", pipeline, text)
		}
	}
	rc := newRESPConn(t, s.RESPAddr())
	// INCR ran on key:__rand_int__ (one key without -r): its count is the
	// number of INCRs sent in each run.
	if got := rc.do("GET", "counter:__rand_int__"); got == "$-1\r\n" {
		t.Errorf("redis-benchmark's INCR left no counter: %q", got)
	}
}

func newGoRedis(t *testing.T, addr string, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: addr, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, PoolSize: 4}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestGoRedis drives every command of the subset through go-redis v9, one
// at a time and in pipelines.
func TestGoRedis(t *testing.T) {
	s := startServer(t, cloudhash.WithDataFile(t.TempDir()+"/snap"))
	ctx := context.Background()
	rdb := newGoRedis(t, s.RESPAddr().String(), func(o *redis.Options) { o.ClientName = "gotest" })

	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	must("PING", rdb.Ping(ctx).Val(), "PONG")
	must("ECHO", rdb.Echo(ctx, "hi").Val(), "hi")
	check("SET", rdb.Set(ctx, "k", "v", 0).Err())
	must("GET", rdb.Get(ctx, "k").Val(), "v")
	if _, err := rdb.Get(ctx, "missing").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET missing: %v, want redis.Nil", err)
	}
	check("SET EX", rdb.Set(ctx, "ex", "1", 100*time.Second).Err())
	must("TTL", rdb.TTL(ctx, "ex").Val(), 100*time.Second)
	check("SET PX", rdb.Set(ctx, "px", "1", 1500*time.Millisecond).Err())
	if d := rdb.PTTL(ctx, "px").Val(); d <= time.Second || d > 1500*time.Millisecond {
		t.Errorf("PTTL after SET PX: %v", d)
	}
	must("SET NX (exists)", rdb.SetNX(ctx, "k", "w", 0).Val(), false)
	must("SET NX (new)", rdb.SetNX(ctx, "nx", "w", 0).Val(), true)
	must("SET XX", rdb.SetXX(ctx, "k", "w", 0).Val(), true)
	must("SET XX (missing)", rdb.SetXX(ctx, "nope", "w", 0).Val(), false)
	must("SetArgs GET", rdb.SetArgs(ctx, "k", "x", redis.SetArgs{Get: true}).Val(), "w")
	must("EXISTS", rdb.Exists(ctx, "k", "nx", "nope").Val(), 2)
	must("DEL", rdb.Del(ctx, "nx", "nope").Val(), 1)
	must("INCR", rdb.Incr(ctx, "n").Val(), 1)
	must("INCRBY", rdb.IncrBy(ctx, "n", 10).Val(), 11)
	must("DECR", rdb.Decr(ctx, "n").Val(), 10)
	must("DECRBY", rdb.DecrBy(ctx, "n", 3).Val(), 7)
	if err := rdb.Incr(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("INCR of a non-number: %v", err)
	}
	check("MSET", rdb.MSet(ctx, "a", "1", "b", "2").Err())
	must("MGET", rdb.MGet(ctx, "a", "zz", "b").Val(), []any{"1", nil, "2"})
	must("EXPIRE", rdb.Expire(ctx, "a", time.Minute).Val(), true)
	must("TTL", rdb.TTL(ctx, "a").Val(), time.Minute)
	must("PEXPIRE", rdb.PExpire(ctx, "b", 90*time.Second).Val(), true)
	must("TTL of missing", rdb.TTL(ctx, "zz").Val(), time.Duration(-2))
	must("TTL without expiry", rdb.TTL(ctx, "n").Val(), time.Duration(-1))
	must("EXPIRE NX", rdb.ExpireNX(ctx, "a", time.Hour).Val(), false)
	must("EXPIRE GT", rdb.ExpireGT(ctx, "a", time.Hour).Val(), true)
	must("DBSIZE", rdb.DBSize(ctx).Val(), 6)
	check("SELECT 0", rdb.Do(ctx, "SELECT", 0).Err())
	if err := rdb.Do(ctx, "SELECT", 1).Err(); err == nil || err.Error() != "ERR DB index is out of range" {
		t.Errorf("SELECT 1: %v", err)
	}
	var keys []string
	iter := rdb.Scan(ctx, 0, "*", 2).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	check("SCAN", iter.Err())
	sort.Strings(keys)
	must("SCAN keys", keys, []string{"a", "b", "ex", "k", "n", "px"})
	must("KEYS", len(rdb.Keys(ctx, "*").Val()), 6)
	if info := rdb.Info(ctx, "keyspace").Val(); !strings.Contains(info, "db0:keys=6") {
		t.Errorf("INFO keyspace: %q", info)
	}
	must("CONFIG GET", rdb.ConfigGet(ctx, "appendonly").Val(), map[string]string{"appendonly": "no"})
	cmds, err := rdb.Command(ctx).Result()
	check("COMMAND", err)
	if c := cmds["get"]; c == nil || c.Arity != 2 || !c.ReadOnly {
		t.Errorf("COMMAND get: %+v", c)
	}
	check("COMMAND DOCS", rdb.Do(ctx, "COMMAND", "DOCS", "set").Err())
	must("CLIENT GETNAME", rdb.ClientGetName(ctx).Val(), "gotest")
	check("CLIENT SETINFO", rdb.Do(ctx, "CLIENT", "SETINFO", "LIB-VER", "9").Err())
	if err := rdb.Do(ctx, "HELLO", "3").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPROTO") {
		t.Errorf("HELLO 3: %v", err)
	}
	check("HELLO 2", rdb.Do(ctx, "HELLO", "2").Err())
	check("SAVE", rdb.Save(ctx).Err())
	check("BGSAVE", rdb.BgSave(ctx).Err())
	if err := rdb.Do(ctx, "NOSUCH").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command 'NOSUCH'") {
		t.Errorf("unknown command: %v", err)
	}

	// Pipelines: many commands, answered in order.
	pipe := rdb.Pipeline()
	var sets []*redis.StatusCmd
	var gets []*redis.StringCmd
	for i := range 200 {
		sets = append(sets, pipe.Set(ctx, fmt.Sprint("p", i), i, 0))
		gets = append(gets, pipe.Get(ctx, fmt.Sprint("p", i)))
	}
	incr := pipe.IncrBy(ctx, "pn", 5)
	mget := pipe.MGet(ctx, "p1", "p199", "nope")
	exp := pipe.Expire(ctx, "p1", time.Minute)
	ttl := pipe.TTL(ctx, "p1")
	del := pipe.Del(ctx, "p0")
	ex := pipe.Exists(ctx, "p0", "p1")
	size := pipe.DBSize(ctx)
	ping := pipe.Ping(ctx)
	_, err = pipe.Exec(ctx)
	check("pipeline", err)
	for i := range 200 {
		if sets[i].Val() != "OK" || gets[i].Val() != fmt.Sprint(i) {
			t.Fatalf("pipeline %d: %q %q", i, sets[i].Val(), gets[i].Val())
		}
	}
	must("pipeline INCRBY", incr.Val(), 5)
	must("pipeline MGET", mget.Val(), []any{"1", "199", nil})
	must("pipeline EXPIRE/TTL", fmt.Sprint(exp.Val(), ttl.Val()), fmt.Sprint(true, time.Minute))
	must("pipeline DEL/EXISTS", fmt.Sprint(del.Val(), ex.Val()), "1 1")
	must("pipeline DBSIZE", size.Val(), 6+200+1-1)
	must("pipeline PING", ping.Val(), "PONG")

	// Pipelines from many goroutines on the pool's connections.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := rdb.Pipeline()
			for i := range 100 {
				p.Incr(ctx, fmt.Sprint("g", g))
				p.Set(ctx, fmt.Sprint("g", g, ":", i), i, 0)
			}
			if _, err := p.Exec(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for g := range 8 {
		must("goroutine counter", rdb.Get(ctx, fmt.Sprint("g", g)).Val(), "100")
	}
	check("FLUSHDB", rdb.FlushDB(ctx).Err())
	check("FLUSHALL", rdb.FlushAll(ctx).Err())
	must("DBSIZE after flush", rdb.DBSize(ctx).Val(), 0)
	check("QUIT", rdb.Do(ctx, "QUIT").Err())
}

// TestGoRedisPassword: go-redis sends HELLO 3 with AUTH, gets -NOPROTO,
// and falls back to RESP2 and AUTH.
func TestGoRedisPassword(t *testing.T) {
	s := startServer(t, cloudhash.WithPassword("pw"))
	ctx := context.Background()
	good := newGoRedis(t, s.RESPAddr().String(), func(o *redis.Options) { o.Password = "pw" })
	if err := good.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("with the password: %v", err)
	}
	bad := newGoRedis(t, s.RESPAddr().String(), func(o *redis.Options) { o.Password = "nope" })
	if err := bad.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: %v", err)
	}
	none := newGoRedis(t, s.RESPAddr().String())
	if err := none.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("no password: %v", err)
	}
}
