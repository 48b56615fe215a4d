package codec_test

import (
	"errors"
	"fmt"

	"github.com/reactorkit/reactor/codec"
)

// A protocol's OnData decodes every complete frame in the inbound bytes,
// then leaves the rest buffered until more arrive.
func ExampleLine() {
	inbound := []byte("USER anonymous\r\nPASS guest\nLIST /pu")
	ftp := codec.Line{MaxLen: 512} // CR LF or a bare LF
	for {
		line, n, err := ftp.Decode(inbound)
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			fmt.Println("close:", err)
			return
		}
		fmt.Printf("%q\n", line)
		inbound = inbound[n:] // with a conn: c.Discard(n)
	}
	fmt.Printf("buffered: %q\n", inbound)

	reply, _ := ftp.Encode(nil, []byte("230 Login successful."))
	fmt.Printf("%q\n", reply)
	// Output:
	// "USER anonymous"
	// "PASS guest"
	// buffered: "LIST /pu"
	// "230 Login successful.\r\n"
}

// The seed's CloudHash client sends [len].pack('i') and then the request.
func ExampleCloudHash() {
	framing := codec.CloudHash()
	wire, _ := framing.Encode(nil, []byte("SET prez obama"))
	fmt.Printf("%q\n", wire)

	payload, n, err := framing.Decode(wire)
	fmt.Printf("%q %d %v\n", payload, n, err)

	// A bad length is refused from the header alone.
	_, _, err = framing.Decode([]byte{0xff, 0xff, 0xff, 0xff})
	fmt.Println(errors.Is(err, codec.ErrNegativeLength))
	// Output:
	// "\x0e\x00\x00\x00SET prez obama"
	// "SET prez obama" 18 <nil>
	// true
}

func ExampleLengthPrefixed() {
	// A 2-byte big-endian length that counts itself.
	framing := codec.LengthPrefixed{HeaderSize: 2, IncludesHeader: true, MaxFrame: 1024}
	wire, _ := framing.Encode(nil, []byte("hi"))
	fmt.Printf("%q\n", wire)

	_, _, err := framing.Decode([]byte{0x10, 0x00}) // 4096 bytes announced
	fmt.Println(err)
	// Output:
	// "\x00\x04hi"
	// codec: frame too large: payload of 4094 bytes, limit 1024
}

// A Redis-compatible server decodes pipelined commands in both forms, and
// answers a malformed one with Redis's own error before closing.
func ExampleRESP_DecodeRequest() {
	inbound := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET \"k\"\r\n*1\r\n$x\r\n")
	var (
		resp codec.RESP    // Redis's default limits
		req  codec.Request // reused for every command: no allocation
		out  []byte
	)
	for {
		n, err := resp.DecodeRequest(inbound, &req)
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			out = codec.AppendError(out, "ERR "+err.Error())
			break // then close the connection, as Redis does
		}
		fmt.Printf("%q\n", req.Args)
		out = codec.AppendSimpleString(out, "OK")
		inbound = inbound[n:]
	}
	fmt.Printf("%q\n", out)
	// Output:
	// ["SET" "k" "hello"]
	// ["GET" "k"]
	// "+OK\r\n+OK\r\n-ERR Protocol error: invalid bulk length\r\n"
}

// A client encodes a command with the Append functions and decodes the
// reply.
func ExampleRESP_DecodeReply() {
	cmd := codec.AppendArrayHeader(nil, 3)
	cmd = codec.AppendBulkString(cmd, "MGET")
	cmd = codec.AppendBulkString(cmd, "a")
	cmd = codec.AppendBulkString(cmd, "b")
	fmt.Printf("%q\n", cmd)

	var resp codec.RESP
	var vals []codec.Reply // reused for every reply
	vals, n, err := resp.DecodeReply([]byte("*2\r\n$3\r\none\r\n$-1\r\n"), vals[:0])
	if err != nil {
		panic(err)
	}
	v := vals[0]
	fmt.Println(n, string(v.Type), len(v.Elems))
	fmt.Printf("%q %v\n", v.Elems[0].Str, v.Elems[1].Null)
	// Output:
	// "*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n"
	// 18 * 2
	// "one" true
}

func ExampleProtocolError() {
	var req codec.Request
	_, err := codec.RESP{}.DecodeRequest([]byte("*1\r\n:1\r\n"), &req)
	fmt.Println(err)
	fmt.Println(errors.Is(err, codec.ErrProtocol))
	fmt.Println(errors.Is(err, codec.ProtocolError{Kind: codec.ExpectedDollar, Got: ':'}))
	// Output:
	// Protocol error: expected '$', got ':'
	// true
	// true
}
