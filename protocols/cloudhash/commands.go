package cloudhash

import (
	"crypto/subtle"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reactorkit/reactor/codec"
	"github.com/reactorkit/reactor/poller"
)

// command is one RESP command, with what COMMAND and COMMAND DOCS say
// about it. The table is built per protocol and never changed.
type command struct {
	name    string // lower case, as Redis's errors name it ("config|get")
	arity   int    // Redis's: n exactly, or at least -n
	flags   []string
	denyOOM bool // refused above maxmemory
	noAuth  bool // allowed before AUTH
	first   int  // first key argument, 0 for none
	last    int  // last key argument, -1 for the last argument
	step    int
	acl     []string
	group   string
	since   string
	summary string
	run     func(x *respExec, args [][]byte, sc *respScratch)
	sub     map[string]*command // subcommands of a container (CONFIG, CLIENT, COMMAND)
}

// commandTable returns the RESP commands by upper-case name.
func commandTable() map[string]*command {
	str, gen, conn, srv := "string", "generic", "connection", "server"
	read, write, fast := []string{"readonly", "fast"}, []string{"write", "denyoom"}, "fast"
	t := map[string]*command{
		"PING":     {arity: -1, flags: []string{fast}, group: conn, since: "1.0.0", summary: "Returns the server's liveliness response.", run: cmdPing},
		"ECHO":     {arity: 2, flags: []string{fast}, group: conn, since: "1.0.0", summary: "Returns the given string.", run: cmdEcho},
		"GET":      {arity: 2, flags: read, first: 1, last: 1, step: 1, acl: []string{"@read", "@string", "@fast"}, group: str, since: "1.0.0", summary: "Returns the string value of a key.", run: cmdGet},
		"SET":      {arity: -3, flags: write, denyOOM: true, first: 1, last: 1, step: 1, acl: []string{"@write", "@string", "@slow"}, group: str, since: "1.0.0", summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", run: cmdSet},
		"DEL":      {arity: -2, flags: []string{"write"}, first: 1, last: -1, step: 1, acl: []string{"@keyspace", "@write", "@slow"}, group: gen, since: "1.0.0", summary: "Deletes one or more keys.", run: cmdDel},
		"EXISTS":   {arity: -2, flags: read, first: 1, last: -1, step: 1, acl: []string{"@keyspace", "@read", "@fast"}, group: gen, since: "1.0.0", summary: "Determines whether one or more keys exist.", run: cmdExists},
		"INCR":     {arity: 2, flags: append(write, fast), denyOOM: true, first: 1, last: 1, step: 1, acl: []string{"@write", "@string", "@fast"}, group: str, since: "1.0.0", summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", run: cmdIncr},
		"DECR":     {arity: 2, flags: append(write, fast), denyOOM: true, first: 1, last: 1, step: 1, acl: []string{"@write", "@string", "@fast"}, group: str, since: "1.0.0", summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", run: cmdDecr},
		"INCRBY":   {arity: 3, flags: append(write, fast), denyOOM: true, first: 1, last: 1, step: 1, acl: []string{"@write", "@string", "@fast"}, group: str, since: "1.0.0", summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", run: cmdIncrBy},
		"DECRBY":   {arity: 3, flags: append(write, fast), denyOOM: true, first: 1, last: 1, step: 1, acl: []string{"@write", "@string", "@fast"}, group: str, since: "1.0.0", summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", run: cmdDecrBy},
		"MGET":     {arity: -2, flags: read, first: 1, last: -1, step: 1, acl: []string{"@read", "@string", "@fast"}, group: str, since: "1.0.0", summary: "Atomically returns the string values of one or more keys.", run: cmdMGet},
		"MSET":     {arity: -3, flags: write, denyOOM: true, first: 1, last: -1, step: 2, acl: []string{"@write", "@string", "@slow"}, group: str, since: "1.0.1", summary: "Atomically creates or modifies the string values of one or more keys.", run: cmdMSet},
		"EXPIRE":   {arity: -3, flags: []string{"write", fast}, first: 1, last: 1, step: 1, acl: []string{"@keyspace", "@write", "@fast"}, group: gen, since: "1.0.0", summary: "Sets the expiration time of a key in seconds.", run: cmdExpire},
		"PEXPIRE":  {arity: -3, flags: []string{"write", fast}, first: 1, last: 1, step: 1, acl: []string{"@keyspace", "@write", "@fast"}, group: gen, since: "2.6.0", summary: "Sets the expiration time of a key in milliseconds.", run: cmdPExpire},
		"TTL":      {arity: 2, flags: read, first: 1, last: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"}, group: gen, since: "1.0.0", summary: "Returns the expiration time in seconds of a key.", run: cmdTTL},
		"PTTL":     {arity: 2, flags: read, first: 1, last: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"}, group: gen, since: "2.6.0", summary: "Returns the expiration time in milliseconds of a key.", run: cmdPTTL},
		"TYPE":     {arity: 2, flags: read, first: 1, last: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"}, group: gen, since: "1.0.0", summary: "Determines the type of value stored at a key.", run: cmdType},
		"DBSIZE":   {arity: 1, flags: []string{"readonly", fast}, acl: []string{"@keyspace", "@read", "@fast"}, group: srv, since: "1.0.0", summary: "Returns the number of keys in the database.", run: cmdDBSize},
		"FLUSHDB":  {arity: -1, flags: []string{"write"}, acl: []string{"@keyspace", "@write", "@slow", "@dangerous"}, group: srv, since: "1.0.0", summary: "Remove all keys from the current database.", run: cmdFlush},
		"FLUSHALL": {arity: -1, flags: []string{"write"}, acl: []string{"@keyspace", "@write", "@slow", "@dangerous"}, group: srv, since: "1.0.0", summary: "Removes all keys from all databases.", run: cmdFlush},
		"SCAN":     {arity: -2, flags: []string{"readonly"}, acl: []string{"@keyspace", "@read", "@slow"}, group: gen, since: "2.8.0", summary: "Iterates over the key names in the database.", run: cmdScan},
		"KEYS":     {arity: 2, flags: []string{"readonly"}, acl: []string{"@keyspace", "@read", "@slow", "@dangerous"}, group: gen, since: "1.0.0", summary: "Returns all key names that match a pattern.", run: cmdKeys},
		"SELECT":   {arity: 2, flags: []string{"loading", "stale", fast}, acl: []string{"@keyspace", "@fast"}, group: conn, since: "1.0.0", summary: "Changes the selected database.", run: cmdSelect},
		"INFO":     {arity: -1, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@dangerous"}, group: srv, since: "1.0.0", summary: "Returns information and statistics about the server.", run: cmdInfo},
		"AUTH":     {arity: -2, flags: []string{"noscript", "loading", "stale", fast, "no_auth"}, noAuth: true, acl: []string{"@fast", "@connection"}, group: conn, since: "1.0.0", summary: "Authenticates the connection.", run: cmdAuth},
		"HELLO":    {arity: -1, flags: []string{"noscript", "loading", "stale", fast, "no_auth"}, noAuth: true, acl: []string{"@fast", "@connection"}, group: conn, since: "6.0.0", summary: "Handshakes with the Redis server.", run: cmdHello},
		"QUIT":     {arity: -1, flags: []string{"noscript", "loading", "stale", fast, "no_auth"}, noAuth: true, acl: []string{"@fast", "@connection"}, group: conn, since: "1.0.0", summary: "Closes the connection.", run: cmdQuit},
		"SAVE":     {arity: 1, flags: []string{"admin", "noscript"}, acl: []string{"@admin", "@slow", "@dangerous"}, group: srv, since: "1.0.0", summary: "Synchronously saves the database(s) to disk.", run: cmdSave},
		"BGSAVE":   {arity: -1, flags: []string{"admin", "noscript"}, acl: []string{"@admin", "@slow", "@dangerous"}, group: srv, since: "1.0.0", summary: "Asynchronously saves the database(s) to disk.", run: cmdBGSave},
		"LASTSAVE": {arity: 1, flags: []string{"loading", "stale", fast}, acl: []string{"@admin", "@fast", "@dangerous"}, group: srv, since: "1.0.0", summary: "Returns the Unix timestamp of the last successful save to disk.", run: cmdLastSave},
		"CONFIG": {arity: -2, group: srv, since: "2.0.0", summary: "A container for server configuration commands.", sub: map[string]*command{
			"GET": {arity: -3, flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"@admin", "@slow", "@dangerous"}, group: srv, since: "2.0.0", summary: "Returns the effective values of configuration parameters.", run: cmdConfigGet},
		}},
		"CLIENT": {arity: -2, group: conn, since: "2.4.0", summary: "A container for client connection commands.", sub: map[string]*command{
			"SETNAME": {arity: 3, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"}, group: conn, since: "2.6.9", summary: "Sets the connection name.", run: cmdClientSetName},
			"GETNAME": {arity: 2, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"}, group: conn, since: "2.6.9", summary: "Returns the name of the connection.", run: cmdClientGetName},
			"SETINFO": {arity: 4, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"}, group: conn, since: "7.2.0", summary: "Sets information specific to the client or connection.", run: cmdClientSetInfo},
			"ID":      {arity: 2, flags: []string{"noscript", "loading", "stale"}, acl: []string{"@slow", "@connection"}, group: conn, since: "5.0.0", summary: "Returns the unique client ID of the connection.", run: cmdClientID},
		}},
		"COMMAND": {arity: -1, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"}, group: srv, since: "2.8.13", summary: "Returns detailed information about all commands.", run: cmdCommand, sub: map[string]*command{
			"COUNT": {arity: 2, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"}, group: srv, since: "2.8.13", summary: "Returns a count of commands.", run: cmdCommandCount},
			"INFO":  {arity: -2, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"}, group: srv, since: "2.8.13", summary: "Returns information about one, multiple or all commands.", run: cmdCommandInfo},
			"DOCS":  {arity: -2, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"}, group: srv, since: "7.0.0", summary: "Returns documentary information about one, multiple or all commands.", run: cmdCommandDocs},
			"LIST":  {arity: -2, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"}, group: srv, since: "7.0.0", summary: "Returns a list of command names.", run: cmdCommandList},
		}},
	}
	for upper, c := range t {
		c.name = strings.ToLower(upper)
		for subUpper, s := range c.sub {
			s.name = c.name + "|" + strings.ToLower(subUpper)
		}
	}
	return t
}

func cmdPing(x *respExec, args [][]byte, _ *respScratch) {
	switch len(args) {
	case 1:
		x.out = append(x.out, "+PONG\r\n"...)
	case 2:
		x.bulk(args[1])
	default:
		x.err("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(x *respExec, args [][]byte, _ *respScratch) { x.bulk(args[1]) }

func cmdGet(x *respExec, args [][]byte, _ *respScratch) {
	x.out = x.p.st.AppendGetBulk(x.out, args[1], x.now)
}

// expiry kinds of SET's options.
const (
	expNone = iota
	expEX
	expPX
	expEXAT
	expPXAT
)

// cmdSet is SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL],
// with the option rules of Redis's parseExtendedStringArgumentsOrReply.
func cmdSet(x *respExec, args [][]byte, _ *respScratch) {
	var nx, xx, get, keepTTL bool
	kind := expNone
	var expArg []byte
	for j := 3; j < len(args); j++ {
		a := args[j]
		next := j+1 < len(args)
		switch {
		case asciiEqualFold(a, "NX") && !xx:
			nx = true
		case asciiEqualFold(a, "XX") && !nx:
			xx = true
		case asciiEqualFold(a, "GET"):
			get = true
		case asciiEqualFold(a, "KEEPTTL") && kind == expNone:
			keepTTL = true
		case asciiEqualFold(a, "EX") && !keepTTL && (kind == expNone || kind == expEX) && next,
			asciiEqualFold(a, "PX") && !keepTTL && (kind == expNone || kind == expPX) && next,
			asciiEqualFold(a, "EXAT") && !keepTTL && (kind == expNone || kind == expEXAT) && next,
			asciiEqualFold(a, "PXAT") && !keepTTL && (kind == expNone || kind == expPXAT) && next:
			switch len(a) {
			case 2:
				kind = expEX
				if a[0]|0x20 == 'p' {
					kind = expPX
				}
			default:
				kind = expEXAT
				if a[0]|0x20 == 'p' {
					kind = expPXAT
				}
			}
			expArg = args[j+1]
			j++
		default:
			x.err(errSyntax)
			return
		}
	}
	var exp int64
	if kind != expNone {
		ms, ok := codec.ParseInt(expArg)
		if !ok {
			x.err(errNotInt)
			return
		}
		seconds := kind == expEX || kind == expEXAT
		if ms <= 0 || (seconds && ms > maxInt64/1000) {
			x.err(errExpireTime("set"))
			return
		}
		if seconds {
			ms *= 1000
		}
		if kind == expEX || kind == expPX {
			if ms > maxInt64-x.now {
				x.err(errExpireTime("set"))
				return
			}
			ms += x.now
		}
		exp = ms
	}
	mode := SetAlways
	switch {
	case nx:
		mode = SetIfAbsent
	case xx:
		mode = SetIfPresent
	}
	if get {
		x.out, _ = x.p.st.SetGet(x.out, args[1], args[2], exp, keepTTL, mode, x.now)
		return
	}
	if x.p.st.Set(args[1], args[2], exp, keepTTL, mode, x.now) {
		x.ok()
	} else {
		x.null()
	}
}

func cmdDel(x *respExec, args [][]byte, _ *respScratch) {
	var n int64
	for _, k := range args[1:] {
		if x.p.st.Delete(k, x.now) {
			n++
		}
	}
	x.int(n)
}

func cmdExists(x *respExec, args [][]byte, _ *respScratch) {
	var n int64
	for _, k := range args[1:] {
		if x.p.st.Exists(k, x.now) {
			n++
		}
	}
	x.int(n)
}

func (x *respExec) incrBy(key []byte, delta int64) {
	n, err := x.p.st.IncrBy(key, delta, x.now)
	if err != nil {
		x.err("ERR " + err.Error())
		return
	}
	x.int(n)
}

func cmdIncr(x *respExec, args [][]byte, _ *respScratch) { x.incrBy(args[1], 1) }

func cmdDecr(x *respExec, args [][]byte, _ *respScratch) { x.incrBy(args[1], -1) }

func cmdIncrBy(x *respExec, args [][]byte, _ *respScratch) {
	d, ok := codec.ParseInt(args[2])
	if !ok {
		x.err(errNotInt)
		return
	}
	x.incrBy(args[1], d)
}

func cmdDecrBy(x *respExec, args [][]byte, _ *respScratch) {
	d, ok := codec.ParseInt(args[2])
	if !ok {
		x.err(errNotInt)
		return
	}
	if d == minInt64 {
		x.err("ERR decrement would overflow")
		return
	}
	x.incrBy(args[1], -d)
}

func cmdMGet(x *respExec, args [][]byte, _ *respScratch) {
	x.array(len(args) - 1)
	for _, k := range args[1:] {
		x.out = x.p.st.AppendGetBulk(x.out, k, x.now)
	}
}

func cmdMSet(x *respExec, args [][]byte, _ *respScratch) {
	if len(args)%2 == 0 {
		x.err("ERR wrong number of arguments for 'mset' command")
		return
	}
	for i := 1; i < len(args); i += 2 {
		x.p.st.Set(args[i], args[i+1], 0, false, SetAlways, x.now)
	}
	x.ok()
}

func cmdExpire(x *respExec, args [][]byte, _ *respScratch) { x.expire(args, 1000, "expire") }

func cmdPExpire(x *respExec, args [][]byte, _ *respScratch) { x.expire(args, 1, "pexpire") }

// expire is EXPIRE and PEXPIRE (unit 1000 or 1 ms), after Redis's
// expireGenericCommand: options, then the number, then the key.
func (x *respExec) expire(args [][]byte, unit int64, name string) {
	var nx, xx, gt, lt bool
	for _, a := range args[3:] {
		switch {
		case asciiEqualFold(a, "NX"):
			nx = true
		case asciiEqualFold(a, "XX"):
			xx = true
		case asciiEqualFold(a, "GT"):
			gt = true
		case asciiEqualFold(a, "LT"):
			lt = true
		default:
			x.err("ERR Unsupported option " + string(a))
			return
		}
	}
	if nx && (xx || gt || lt) {
		x.err("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if gt && lt {
		x.err("ERR GT and LT options at the same time are not compatible")
		return
	}
	when, ok := codec.ParseInt(args[2])
	if !ok {
		x.err(errNotInt)
		return
	}
	if unit == 1000 {
		if when > maxInt64/1000 || when < minInt64/1000 {
			x.err(errExpireTime(name))
			return
		}
		when *= 1000
	}
	if when > maxInt64-x.now {
		x.err(errExpireTime(name))
		return
	}
	when += x.now
	cond := ExpireAlways
	switch {
	case nx:
		cond = ExpireIfNone
	case xx:
		cond = ExpireIfSet
	}
	switch {
	case gt:
		cond = ExpireIfGreater
	case lt:
		cond = ExpireIfLess
	}
	if xx && (gt || lt) {
		// XX and GT/LT together: the key must have an expiry, and GT/LT
		// compare with it.
		if x.p.st.TTL(args[1], x.now) == -1 {
			x.int(0)
			return
		}
	}
	if x.p.st.Expire(args[1], when, cond, x.now) {
		x.int(1)
	} else {
		x.int(0)
	}
}

func cmdTTL(x *respExec, args [][]byte, _ *respScratch) {
	ms := x.p.st.TTL(args[1], x.now)
	if ms >= 0 {
		ms = (ms + 500) / 1000
	}
	x.int(ms)
}

func cmdPTTL(x *respExec, args [][]byte, _ *respScratch) { x.int(x.p.st.TTL(args[1], x.now)) }

func cmdType(x *respExec, args [][]byte, _ *respScratch) {
	if x.p.st.Exists(args[1], x.now) {
		x.status("string")
	} else {
		x.status("none")
	}
}

func cmdDBSize(x *respExec, _ [][]byte, _ *respScratch) { x.int(x.p.st.Len()) }

// cmdFlush is FLUSHDB and FLUSHALL [ASYNC|SYNC]; both empty the one
// database.
func cmdFlush(x *respExec, args [][]byte, _ *respScratch) {
	if len(args) > 2 || (len(args) == 2 && !asciiEqualFold(args[1], "ASYNC") && !asciiEqualFold(args[1], "SYNC")) {
		x.err(errSyntax)
		return
	}
	x.p.st.Flush()
	x.ok()
}

// parseCursor reads SCAN's cursor as Redis's parseScanCursorOrReply does.
func parseCursor(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	u, err := strconv.ParseUint(string(b), 10, 64)
	return u, err == nil
}

// cmdScan is SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The
// cursor is a shard index: each call returns whole shards, so every key
// present throughout an iteration is returned at least once.
func cmdScan(x *respExec, args [][]byte, sc *respScratch) {
	cursor, ok := parseCursor(args[1])
	if !ok {
		x.err("ERR invalid cursor")
		return
	}
	count := 10
	var match []byte
	typeOK := true
	for i := 2; i < len(args); {
		more := len(args) - i
		switch {
		case asciiEqualFold(args[i], "COUNT") && more >= 2:
			n, ok := codec.ParseInt(args[i+1])
			if !ok {
				x.err(errNotInt)
				return
			}
			if n < 1 {
				x.err(errSyntax)
				return
			}
			count = int(min(n, 1<<30))
			i += 2
		case asciiEqualFold(args[i], "MATCH") && more >= 2:
			match = args[i+1]
			if len(match) == 1 && match[0] == '*' {
				match = nil
			}
			i += 2
		case asciiEqualFold(args[i], "TYPE") && more >= 2:
			typeOK = asciiEqualFold(args[i+1], "STRING")
			i += 2
		default:
			x.err(errSyntax)
			return
		}
	}
	keys := sc.keys[:0]
	next := uint64(0)
	if cursor < uint64(x.p.st.ShardCount()) {
		keys, next = x.p.st.ScanShards(keys, cursor, count, match, x.now)
	}
	if !typeOK {
		keys = keys[:0]
	}
	sc.keys = keys
	x.array(2)
	x.bulkString(strconv.FormatUint(next, 10))
	x.array(len(keys))
	for _, k := range keys {
		x.bulk(k)
	}
}

func cmdKeys(x *respExec, args [][]byte, sc *respScratch) {
	match := args[1]
	if len(match) == 1 && match[0] == '*' {
		match = nil
	}
	keys, _ := x.p.st.ScanShards(sc.keys[:0], 0, 1<<62, match, x.now)
	sc.keys = keys
	x.array(len(keys))
	for _, k := range keys {
		x.bulk(k)
	}
}

func cmdSelect(x *respExec, args [][]byte, _ *respScratch) {
	n, ok := codec.ParseInt(args[1])
	switch {
	case !ok || n < minInt32 || n > maxInt32:
		x.err(errNotInt)
	case n != 0:
		x.err("ERR DB index is out of range")
	default:
		x.ok()
	}
}

const (
	minInt32 = -1 << 31
	maxInt32 = 1<<31 - 1
)

// checkPassword reports whether user and pw are the default user's
// credentials.
func (p *RESPProtocol) checkPassword(user, pw []byte) bool {
	if string(user) != "default" {
		return false
	}
	if p.cfg.password == "" {
		return true // the default user has no password: any will do
	}
	return subtle.ConstantTimeCompare(pw, []byte(p.cfg.password)) == 1
}

const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

func cmdAuth(x *respExec, args [][]byte, _ *respScratch) {
	var user, pw []byte
	switch len(args) {
	case 2:
		if x.p.cfg.password == "" {
			x.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		user, pw = []byte("default"), args[1]
	case 3:
		user, pw = args[1], args[2]
	default:
		x.err(errSyntax)
		return
	}
	if x.p.checkPassword(user, pw) {
		x.s.authed = true
		x.ok()
		return
	}
	x.err(errWrongPass)
}

// cmdHello is HELLO [protover [AUTH user pass] [SETNAME name]]. Only RESP2
// is spoken: HELLO 3 gets -NOPROTO, which makes go-redis v9 fall back to
// RESP2 and AUTH.
func cmdHello(x *respExec, args [][]byte, _ *respScratch) {
	next := 1
	if len(args) >= 2 {
		ver, ok := codec.ParseInt(args[1])
		if !ok {
			x.err("ERR Protocol version is not an integer or out of range")
			return
		}
		switch {
		case ver < 2 || ver > 3:
			x.err("NOPROTO unsupported protocol version")
			return
		case ver == 3:
			x.err("NOPROTO sorry, this protocol version is not supported")
			return
		}
		next = 2
	}
	var user, pw, name []byte
	setName := false
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case asciiEqualFold(args[j], "AUTH") && more >= 2:
			user, pw = args[j+1], args[j+2]
			j += 2
		case asciiEqualFold(args[j], "SETNAME") && more >= 1:
			name, setName = args[j+1], true
			if !validClientName(name) {
				x.err(errClientName)
				return
			}
			j++
		default:
			x.err("ERR Syntax error in HELLO option '" + string(args[j]) + "'")
			return
		}
	}
	if user != nil {
		if !x.p.checkPassword(user, pw) {
			x.err(errWrongPass)
			return
		}
		x.s.authed = true
	}
	if !x.s.authed {
		x.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		x.s.name = string(name)
	}
	x.array(14)
	x.bulkString("server")
	x.bulkString("redis")
	x.bulkString("version")
	x.bulkString(redisVersion)
	x.bulkString("proto")
	x.int(2)
	x.bulkString("id")
	x.int(x.s.id)
	x.bulkString("mode")
	x.bulkString("standalone")
	x.bulkString("role")
	x.bulkString("master")
	x.bulkString("modules")
	x.array(0)
}

// redisVersion is the Redis version whose behaviour CloudHash's RESP
// subset follows, as HELLO and INFO report it.
const redisVersion = "7.0.0"

func cmdQuit(x *respExec, _ [][]byte, _ *respScratch) {
	x.ok()
	x.act = actClose
}

func cmdSave(x *respExec, _ [][]byte, _ *respScratch) {
	switch {
	case x.p.persist.path == "":
		x.err(errNoDataFileText)
	case x.p.persist.busy.Load():
		x.err("ERR Background save already in progress")
	default:
		x.act = actSave
	}
}

func cmdBGSave(x *respExec, args [][]byte, _ *respScratch) {
	if len(args) > 2 || (len(args) == 2 && !asciiEqualFold(args[1], "SCHEDULE")) {
		x.err(errSyntax)
		return
	}
	switch err := x.p.persist.background(nil); err {
	case nil:
		x.status("Background saving started")
	case ErrSaveInProgress:
		x.err("ERR Background save already in progress")
	case ErrNoDataFile:
		x.err(errNoDataFileText)
	default:
		x.err("ERR " + err.Error())
	}
}

func cmdLastSave(x *respExec, _ [][]byte, _ *respScratch) { x.int(x.p.persist.lastSave.Load()) }

// configParams returns CONFIG GET's parameters and values, in order.
func (p *RESPProtocol) configParams() [][2]string {
	return [][2]string{
		{"save", ""},
		{"appendonly", "no"},
		{"databases", "1"},
		{"maxmemory", itoa(p.st.MaxMemory())},
		{"maxmemory-policy", "noeviction"},
		{"proto-max-bulk-len", itoa(int64(p.cfg.maxValue))},
		{"dbfilename", p.persist.path},
		{"requirepass", ""},
		{"hz", "10"},
	}
}

func cmdConfigGet(x *respExec, args [][]byte, _ *respScratch) {
	var found [][2]string
	for _, kv := range x.p.configParams() {
		for _, pat := range args[2:] {
			if globMatch([]byte(strings.ToLower(string(pat))), []byte(kv[0])) {
				found = append(found, kv)
				break
			}
		}
	}
	x.array(2 * len(found))
	for _, kv := range found {
		x.bulkString(kv[0])
		x.bulkString(kv[1])
	}
}

const errClientName = "ERR Client names cannot contain spaces, newlines or special characters."

// validClientName applies Redis's rule: printable ASCII, no spaces.
func validClientName(b []byte) bool {
	for _, c := range b {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

func cmdClientSetName(x *respExec, args [][]byte, _ *respScratch) {
	if !validClientName(args[2]) {
		x.err(errClientName)
		return
	}
	x.s.name = string(args[2])
	x.ok()
}

func cmdClientGetName(x *respExec, _ [][]byte, _ *respScratch) {
	if x.s.name == "" {
		x.null()
		return
	}
	x.bulkString(x.s.name)
}

func cmdClientSetInfo(x *respExec, args [][]byte, _ *respScratch) {
	attr := args[2]
	if !asciiEqualFold(attr, "LIB-NAME") && !asciiEqualFold(attr, "LIB-VER") {
		x.err("ERR Unrecognized option '" + string(attr) + "'")
		return
	}
	for _, c := range args[3] {
		if c < '!' || c > '~' {
			x.err("ERR " + strings.ToLower(string(attr)) + " cannot contain spaces, newlines or special characters.")
			return
		}
	}
	x.ok()
}

func cmdClientID(x *respExec, _ [][]byte, _ *respScratch) { x.int(x.s.id) }

// byName returns the commands of m (the table, or a container's
// subcommands) in name order, so COMMAND's replies are stable.
func byName(m map[string]*command) []*command {
	return slices.SortedFunc(maps.Values(m), func(a, b *command) int { return strings.Compare(a.name, b.name) })
}

// appendCommandInfo appends c's COMMAND INFO entry in Redis 7's ten-field
// form.
func appendCommandInfo(out []byte, c *command) []byte {
	out = codec.AppendArrayHeader(out, 10)
	out = codec.AppendBulkString(out, c.name)
	out = codec.AppendInt(out, int64(c.arity))
	out = codec.AppendArrayHeader(out, len(c.flags))
	for _, f := range c.flags {
		out = codec.AppendSimpleString(out, f)
	}
	out = codec.AppendInt(out, int64(c.first))
	out = codec.AppendInt(out, int64(c.last))
	out = codec.AppendInt(out, int64(c.step))
	out = codec.AppendArrayHeader(out, len(c.acl))
	for _, a := range c.acl {
		out = codec.AppendSimpleString(out, a)
	}
	out = codec.AppendArrayHeader(out, 0) // tips
	out = codec.AppendArrayHeader(out, 0) // key specifications
	subs := byName(c.sub)
	out = codec.AppendArrayHeader(out, len(subs))
	for _, s := range subs {
		out = appendCommandInfo(out, s)
	}
	return out
}

// appendCommandDocs appends c's COMMAND DOCS map, flattened for RESP2.
func appendCommandDocs(out []byte, c *command) []byte {
	subs := byName(c.sub)
	n := 3
	if len(subs) > 0 {
		n++
	}
	out = codec.AppendArrayHeader(out, 2*n)
	out = codec.AppendBulkString(out, "summary")
	out = codec.AppendBulkString(out, c.summary)
	out = codec.AppendBulkString(out, "since")
	out = codec.AppendBulkString(out, c.since)
	out = codec.AppendBulkString(out, "group")
	out = codec.AppendBulkString(out, c.group)
	if len(subs) > 0 {
		out = codec.AppendBulkString(out, "subcommands")
		out = codec.AppendArrayHeader(out, 2*len(subs))
		for _, s := range subs {
			out = codec.AppendBulkString(out, s.name)
			out = appendCommandDocs(out, s)
		}
	}
	return out
}

func cmdCommand(x *respExec, _ [][]byte, _ *respScratch) {
	cmds := byName(x.p.commands)
	x.array(len(cmds))
	for _, c := range cmds {
		x.out = appendCommandInfo(x.out, c)
	}
}

func cmdCommandCount(x *respExec, _ [][]byte, _ *respScratch) { x.int(int64(len(x.p.commands))) }

// commandsNamed returns the commands named in args (nil for unknown
// ones), or all of them when args is empty.
func (p *RESPProtocol) commandsNamed(args [][]byte) []*command {
	if len(args) == 0 {
		return byName(p.commands)
	}
	cmds := make([]*command, len(args))
	for i, a := range args {
		cmds[i] = p.lookup(a)
	}
	return cmds
}

func cmdCommandInfo(x *respExec, args [][]byte, _ *respScratch) {
	cmds := x.p.commandsNamed(args[2:])
	x.array(len(cmds))
	for _, c := range cmds {
		if c == nil {
			x.out = codec.AppendNullArray(x.out)
			continue
		}
		x.out = appendCommandInfo(x.out, c)
	}
}

func cmdCommandDocs(x *respExec, args [][]byte, _ *respScratch) {
	var cmds []*command
	for _, c := range x.p.commandsNamed(args[2:]) {
		if c != nil {
			cmds = append(cmds, c)
		}
	}
	x.array(2 * len(cmds))
	for _, c := range cmds {
		x.bulkString(c.name)
		x.out = appendCommandDocs(x.out, c)
	}
}

func cmdCommandList(x *respExec, _ [][]byte, _ *respScratch) {
	cmds := byName(x.p.commands)
	x.array(len(cmds))
	for _, c := range cmds {
		x.bulkString(c.name)
	}
}

// cmdInfo is INFO [section ...]: what CloudHash can say about itself, in
// Redis's "field:value" lines under "# Section" headings.
func cmdInfo(x *respExec, args [][]byte, _ *respScratch) {
	want := func(section string) bool {
		if len(args) == 1 {
			return true
		}
		for _, a := range args[1:] {
			if asciiEqualFold(a, strings.ToUpper(section)) || asciiEqualFold(a, "ALL") || asciiEqualFold(a, "EVERYTHING") || asciiEqualFold(a, "DEFAULT") {
				return true
			}
		}
		return false
	}
	p := x.p
	var b strings.Builder
	if want("server") {
		fmt.Fprintf(&b, "# Server\r\nredis_version:%s\r\nredis_mode:standalone\r\nserver_name:cloudhash\r\nos:%s %s\r\narch_bits:64\r\nmultiplexing_api:%s\r\ngo_version:%s\r\nprocess_id:%d\r\nuptime_in_seconds:%d\r\nhz:10\r\n\r\n",
			redisVersion, runtime.GOOS, runtime.GOARCH, poller.Backend, runtime.Version(), os.Getpid(), int64(time.Since(p.started).Seconds()))
	}
	if want("clients") {
		fmt.Fprintf(&b, "# Clients\r\nconnected_clients:%d\r\n\r\n", p.clients.Load())
	}
	if want("memory") {
		fmt.Fprintf(&b, "# Memory\r\nused_memory:%d\r\nmaxmemory:%d\r\nmaxmemory_policy:noeviction\r\n\r\n", p.st.UsedMemory(), p.st.MaxMemory())
	}
	if want("persistence") {
		busy := 0
		if p.persist.busy.Load() {
			busy = 1
		}
		fmt.Fprintf(&b, "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%d\r\naof_enabled:0\r\n\r\n", busy, p.persist.lastSave.Load())
	}
	if want("stats") {
		fmt.Fprintf(&b, "# Stats\r\ntotal_commands_processed:%d\r\nexpired_keys:%d\r\n\r\n", p.cmds.Load(), p.st.Expired())
	}
	if want("keyspace") {
		b.WriteString("# Keyspace\r\n")
		if n := p.st.Len(); n > 0 {
			fmt.Fprintf(&b, "db0:keys=%d,expires=%d,avg_ttl=0\r\n", n, p.st.volatile.Load())
		}
	}
	x.bulkString(b.String())
}
