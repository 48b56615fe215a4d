package main

import (
	"fmt"
	"time"

	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// kind is what a workload's clients do.
type kind int

const (
	kindEcho    kind = iota // connections held open, echoing messages
	kindChurn               // connect, one 64 B echo, reset, again
	kindIdle                // connections opened, one echo each, then idle
	kindSession             // the FTP-like session: greeting, USER, PWD, QUIT
)

// workload is one load the harness applies to each server.
type workload struct {
	Name  string        `json:"name"`
	Title string        `json:"title"`
	Kind  kind          `json:"kind"`
	Proto handler.Proto `json:"proto"`
	// Conns is the connections held open at once (echo, idle) or the
	// concurrent clients (churn, session).
	Conns int `json:"conns"`
	// Size is the message size in bytes (echo, churn).
	Size int `json:"size,omitempty"`
	// Depth is the messages in flight per connection: sent as one batch,
	// the next batch once all are back; or, with Window, topped up as
	// each comes back (streaming).
	Depth  int  `json:"depth,omitempty"`
	Window bool `json:"window,omitempty"`
	// Unit names one operation: message, connection or session.
	Unit string `json:"unit"`
	// Duration is how long the measurement runs (after its warm-up).
	Duration time.Duration `json:"duration_ns"`
	// TLS: the clients speak TLS, and only the servers that serve it run.
	TLS bool `json:"tls,omitempty"`
}

// simultaneous reports whether the workload needs all its connections
// served at the same time (the serial server, a worker pool or preforked
// children can then serve too few); churn and session clients can queue.
func (w workload) simultaneous() bool { return w.Kind == kindEcho || w.Kind == kindIdle }

// workloads returns the workloads of issue 8 at the scale cfg asks for.
func workloads(cfg config) []workload {
	d := cfg.duration
	return []workload{
		{Name: "pingpong", Title: fmt.Sprintf("echo ping-pong, 64 B, %d conns", cfg.conns),
			Kind: kindEcho, Proto: handler.Echo, Conns: cfg.conns, Size: 64, Depth: 1, Unit: "msg", Duration: d},
		{Name: "pipelined", Title: fmt.Sprintf("echo pipelined 16 deep, 64 B, %d conns", cfg.conns),
			Kind: kindEcho, Proto: handler.Echo, Conns: cfg.conns, Size: 64, Depth: 16, Unit: "msg", Duration: d},
		{Name: "stream", Title: fmt.Sprintf("echo streaming 1 KiB (window 4), %d conns", cfg.streamConns),
			Kind: kindEcho, Proto: handler.Echo, Conns: cfg.streamConns, Size: 1024, Depth: 4, Window: true, Unit: "msg", Duration: d},
		{Name: "churn", Title: fmt.Sprintf("connect, one 64 B echo, close; %d clients", cfg.clients),
			Kind: kindChurn, Proto: handler.Echo, Conns: cfg.clients, Size: 64, Unit: "conn", Duration: d},
		{Name: "idle", Title: fmt.Sprintf("%d idle connections: server RSS per connection", cfg.idle),
			Kind: kindIdle, Proto: handler.Echo, Conns: cfg.idle, Size: 64, Depth: 1, Unit: "conn"},
		{Name: "session", Title: fmt.Sprintf("FTP-like session (greeting, USER, PWD, QUIT); %d clients", cfg.clients),
			Kind: kindSession, Proto: handler.FTP, Conns: cfg.clients, Unit: "session", Duration: d},

		// Issue 9: TLS, against Go's net + crypto/tls.
		{Name: "tls-echo", Title: fmt.Sprintf("TLS echo ping-pong, 1 KiB, %d conns", cfg.conns),
			Kind: kindEcho, Proto: handler.Echo, Conns: cfg.conns, Size: 1024, Depth: 1, Unit: "msg", Duration: d, TLS: true},
		{Name: "tls-pipelined", Title: fmt.Sprintf("TLS echo pipelined 16 deep, 1 KiB, %d conns", cfg.conns),
			Kind: kindEcho, Proto: handler.Echo, Conns: cfg.conns, Size: 1024, Depth: 16, Unit: "msg", Duration: d, TLS: true},
		{Name: "tls-idle", Title: fmt.Sprintf("%d idle TLS connections (one 1 KiB echo each): server RSS per connection", cfg.idle),
			Kind: kindIdle, Proto: handler.Echo, Conns: cfg.idle, Size: 1024, Depth: 1, Unit: "conn", TLS: true},
		{Name: "tls-handshake", Title: fmt.Sprintf("connect, full TLS handshake, one 64 B echo, close; %d clients", cfg.clients),
			Kind: kindChurn, Proto: handler.Echo, Conns: cfg.clients, Size: 64, Unit: "conn", Duration: d, TLS: true},
	}
}

// baseServer is the server a workload's ratios compare with: the native
// reactor, over TLS for the TLS workloads.
func (w workload) baseServer() string {
	if w.TLS {
		return "reactor-tls"
	}
	return "reactor"
}
