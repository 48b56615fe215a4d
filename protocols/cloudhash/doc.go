// Package cloudhash is CloudHash, the seed's key-value server, as a reactor
// protocol plugin: one Store (byte-string keys and values with optional
// expiry) served on up to three listeners of one loop.Server.
//
//   - LineProtocol (default 127.0.0.1:4481, the seed's port): "GET key\n"
//     and "SET key value\n", each answered with the value line (an empty
//     line for a missing key); "exit" closes. On the same port, the seed's
//     EOF framing: a request left unterminated when the client half-closes
//     is answered with the bare value, then the server closes.
//   - LengthProtocol (default 127.0.0.1:4482): requests and answers are a
//     4-byte little-endian signed length and a payload (Ruby's pack('i')).
//     The seed's server answered unframed; this one frames its answers too.
//     An error answer carries a negative length.
//   - RESPProtocol (default 127.0.0.1:6380): RESP2 with the commands
//     redis-cli, redis-benchmark and go-redis need; replies and error texts
//     are Redis 7.0's, byte for byte (a differential test checks them
//     against redis-server).
//
// Server opens all three on one loop.Server, runs active expiry on the
// loops' timers and writes snapshots to a data file.
//
// # Threading
//
// Protocol callbacks run on their connection's event loop and never block:
// the Store's shards each have their own lock (held for a map operation and
// a copy, never across I/O), and SAVE runs on a goroutine that reports back
// with conn.Submit. Every exported type says whether it is goroutine-safe;
// Store, Server, Client and the protocol values all are.
//
// # Batching
//
// Every protocol handles all the complete requests of a read in order and
// gathers the replies in one buffer, written with one Write per OnData. If
// the peer stops reading its replies, execution stops at the connection's
// high watermark and resumes in OnWritable.
//
// # Bad input
//
// Malformed input gets the protocol's own error (Redis's "-ERR Protocol
// error: …" on RESP, an error line or a negative-length frame on the seed
// protocols). Where the stream cannot be trusted any more, the connection
// then half-closes, discards what else arrives and closes at the peer's FIN
// or after a short linger; closing at once could reset the connection and
// lose the error. Inbound bytes per connection are bounded by the largest
// request (WithMaxValue, WithMaxLine).
package cloudhash
