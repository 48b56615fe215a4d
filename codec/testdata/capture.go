//go:build ignore

// Command capture records the bytes that the real redis-cli and
// redis-benchmark send, for the RESP decoder's tests (capture_test.go).
//
// It runs a small fake Redis server on a loopback port chosen by the OS,
// runs each client against it, and writes everything each client sent, on
// all of its connections in the order they were accepted, to
// testdata/<name>.bin. The server answers each command plausibly (PONG, OK,
// an empty array for COMMAND DOCS, name/value pairs for CONFIG GET) so the
// clients proceed as they would against Redis.
//
// Re-capture, from the module root, after installing the clients (Debian:
// apt-get install -y redis-tools):
//
//	go run ./codec/testdata/capture.go
//
// The clients' versions are printed, and go into testdata/clients.txt.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reactorkit/reactor/codec"
)

// run is one client invocation; {port} in args becomes the server's port.
type run struct {
	name  string
	args  []string
	stdin string
}

var runs = []run{
	{name: "redis-cli-set", args: []string{"redis-cli", "-p", "{port}", "set", "k", "v"}},
	{name: "redis-cli-get", args: []string{"redis-cli", "-p", "{port}", "get", "k"}},
	{name: "redis-cli-mset", args: []string{"redis-cli", "-p", "{port}", "mset", "a", "1", "b", "2"}},
	{
		// Commands read from standard input are split by redis-cli with
		// sdssplitargs, quotes and escapes included, and sent as multibulk.
		name:  "redis-cli-stdin",
		args:  []string{"redis-cli", "-p", "{port}"},
		stdin: "SET \"key with spaces\" \"tab\\there\\x41\"\nGET 'key with spaces'\nINCR counter\nDEL a b\n",
	},
	{name: "redis-benchmark", args: []string{"redis-benchmark", "-p", "{port}", "-n", "20", "-c", "1", "-t", "ping,set,get,incr,lpush,mset", "-q"}},
	{name: "redis-benchmark-pipelined", args: []string{"redis-benchmark", "-p", "{port}", "-n", "50", "-c", "1", "-P", "16", "-t", "ping,set,get,incr,mset", "-q"}},
}

func main() {
	log.SetFlags(0)
	dir := "codec/testdata"
	if _, err := os.Stat(filepath.Join(dir, "capture.go")); err != nil {
		dir = "." // run from codec/testdata itself
	}
	var versions []string
	for _, tool := range []string{"redis-cli", "redis-benchmark"} {
		out, err := exec.Command(tool, "--version").Output()
		if err != nil {
			log.Fatalf("%s: %v (Debian: apt-get install -y redis-tools)", tool, err)
		}
		versions = append(versions, strings.TrimSpace(string(out)))
	}
	log.Print(strings.Join(versions, "\n"))
	for _, r := range runs {
		b, err := capture(r)
		if err != nil {
			log.Fatalf("%s: %v", r.name, err)
		}
		path := filepath.Join(dir, r.name+".bin")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("%s: %d bytes", path, len(b))
	}
	note := "Captured by capture.go with:\n" + strings.Join(versions, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "clients.txt"), []byte(note), 0o644); err != nil {
		log.Fatal(err)
	}
}

// capture serves one client run and returns what the client sent.
func capture(r run) ([]byte, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	var (
		mu       sync.Mutex
		recorded [][]byte // per connection, in accept order
		serveErr error
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			mu.Lock()
			i := len(recorded)
			recorded = append(recorded, nil)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := serve(c)
				mu.Lock()
				recorded[i] = got
				if err != nil && serveErr == nil {
					serveErr = err
				}
				mu.Unlock()
			}()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := make([]string, len(r.args))
	for i, a := range r.args {
		args[i] = strings.ReplaceAll(a, "{port}", port)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(r.stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %w\n%s", args, err, out)
	}
	// The client has exited, so its connections are closed: serve returns.
	ln.Close()
	wg.Wait()
	if serveErr != nil {
		return nil, serveErr
	}
	return bytes.Join(recorded, nil), nil
}

// serve answers one connection until the client closes it, and returns
// every byte received.
func serve(c net.Conn) ([]byte, error) {
	defer c.Close()
	var (
		all, buf, out []byte
		req           codec.Request
		resp          codec.RESP
		chunk         = make([]byte, 16<<10)
	)
	for {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := c.Read(chunk)
		all = append(all, chunk[:n]...)
		buf = append(buf, chunk[:n]...)
		for {
			used, derr := resp.DecodeRequest(buf, &req)
			buf = buf[used:]
			if derr == codec.ErrNeedMore {
				break
			}
			if derr != nil {
				return all, fmt.Errorf("decoding %q: %w", buf, derr)
			}
			out = reply(out, req.Args)
		}
		if len(out) > 0 {
			if _, werr := c.Write(out); werr != nil {
				return all, werr
			}
			out = out[:0]
		}
		if errors.Is(err, net.ErrClosed) || err != nil {
			if len(buf) > 0 {
				return all, fmt.Errorf("connection ended inside a command: %q", buf)
			}
			return all, nil
		}
	}
}

// reply appends a plausible answer to one command.
func reply(out []byte, args [][]byte) []byte {
	switch strings.ToUpper(string(args[0])) {
	case "PING":
		return codec.AppendSimpleString(out, "PONG")
	case "COMMAND":
		return codec.AppendArrayHeader(out, 0)
	case "CONFIG":
		// CONFIG GET name: the name and an empty value.
		out = codec.AppendArrayHeader(out, 2)
		out = codec.AppendBulk(out, args[len(args)-1])
		return codec.AppendBulkString(out, "")
	case "GET":
		return codec.AppendBulkString(out, "xxx")
	case "INCR", "DEL", "LPUSH", "RPUSH", "SADD", "HSET", "ZADD":
		return codec.AppendInt(out, 1)
	case "HELLO":
		return codec.AppendError(out, "ERR unknown command 'HELLO'")
	}
	return codec.AppendSimpleString(out, "OK")
}
