package main

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/reactorkit/reactor/examples/patterns/handler"
)

// serverSpec is one server under test.
type serverSpec struct {
	Name  string `json:"name"`  // short key: reactor, gnet, serial, …
	Label string `json:"label"` // what the tables call it
	// Binary is the key of the build that provides it (see builds).
	Binary string `json:"binary"`
	// Capacity is the most connections it serves at once; 0 means no limit
	// but memory and file descriptors.
	Capacity int `json:"capacity"`
	// Protos are the protocols it speaks.
	Protos []handler.Proto `json:"protos"`
	// MultiProcess: its CPU and memory are summed over its process group.
	MultiProcess bool `json:"multi_process"`
	// TLS: it serves TLS (with the harness's self-signed certificate) and
	// runs the TLS workloads only; Plain names the same server without TLS.
	TLS   bool   `json:"tls,omitempty"`
	Plain string `json:"plain,omitempty"`
	// args returns its command line after the binary.
	args func(a serverArgs) []string
	// command, for an -extra server, is its command line template.
	command []string
}

// serverArgs is what a server's command line is made of.
type serverArgs struct {
	port  int
	proto handler.Proto
	dir   string
	cpus  int
	// certFile and keyFile are the TLS certificate for a TLS server.
	certFile, keyFile string
}

func (a serverArgs) addr() string { return "127.0.0.1:" + strconv.Itoa(a.port) }

// Limits the harness gives the patterns that have one.
const (
	poolWorkers   = 128 // worker pool: goroutines
	preforkProcs  = 4   // prefork: child processes
	maxChildProcs = 200 // process per connection: children at once
)

// patternArgs is the patterns command line for one pattern.
func patternArgs(pattern string) func(a serverArgs) []string {
	return func(a serverArgs) []string {
		return []string{"-pattern", pattern, "-addr", a.addr(), "-proto", string(a.proto), "-dir", a.dir,
			"-loops", strconv.Itoa(a.cpus), "-idle-timeout", "5m",
			"-workers", strconv.Itoa(poolWorkers), "-procs", strconv.Itoa(preforkProcs),
			"-max-procs", strconv.Itoa(maxChildProcs)}
	}
}

// tlsPatternArgs is the patterns command line for one pattern serving TLS.
func tlsPatternArgs(pattern string) func(a serverArgs) []string {
	plain := patternArgs(pattern)
	return func(a serverArgs) []string {
		return append(plain(a), "-tls-cert", a.certFile, "-tls-key", a.keyFile)
	}
}

// builtinServers returns the servers the harness builds itself.
func builtinServers() []*serverSpec {
	both := []handler.Proto{handler.Echo, handler.FTP}
	native := "epoll"
	if runtime.GOOS != "linux" {
		native = "kqueue"
	}
	return []*serverSpec{
		{Name: "reactor", Label: "reactor (" + native + ") = evented", Binary: "patterns", Protos: both, args: patternArgs("evented")},
		{Name: "reactor-gnet", Label: "reactor (gnet poller)", Binary: "patterns-gnet", Protos: both, args: patternArgs("evented")},
		{Name: "gnet", Label: "gnet engine", Binary: "gnetserver", Protos: both, args: func(a serverArgs) []string {
			return []string{"-addr", a.addr(), "-proto", string(a.proto), "-dir", a.dir, "-loops", strconv.Itoa(a.cpus)}
		}},
		{Name: "gonet", Label: "Go net, goroutine/conn", Binary: "patterns", Protos: both, args: patternArgs("goroutine")},
		{Name: "c-epoll", Label: "C epoll (reference)", Binary: "cepoll", Protos: []handler.Proto{handler.Echo}, args: func(a serverArgs) []string {
			return []string{strconv.Itoa(a.port), strconv.Itoa(a.cpus)}
		}},
		{Name: "serial", Label: "serial", Binary: "patterns", Capacity: 1, Protos: both, args: patternArgs("serial")},
		{Name: "process", Label: "process per conn", Binary: "patterns", Capacity: maxChildProcs, MultiProcess: true, Protos: both, args: patternArgs("process")},
		{Name: "prefork", Label: fmt.Sprintf("prefork (%d procs)", preforkProcs), Binary: "patterns", Capacity: preforkProcs, MultiProcess: true, Protos: both, args: patternArgs("prefork")},
		{Name: "pool", Label: fmt.Sprintf("worker pool (%d)", poolWorkers), Binary: "patterns", Capacity: poolWorkers, Protos: both, args: patternArgs("pool")},
		// TLS (issue 9): the same servers with the harness's certificate.
		// gnet's engine has no TLS, nor does the C reference.
		{Name: "reactor-tls", Label: "reactor TLS (" + native + ", crypto/tls on the loop)", Binary: "patterns", Protos: both,
			TLS: true, Plain: "reactor", args: tlsPatternArgs("evented")},
		{Name: "reactor-gnet-tls", Label: "reactor TLS (gnet poller)", Binary: "patterns-gnet", Protos: both,
			TLS: true, Plain: "reactor-gnet", args: tlsPatternArgs("evented")},
		{Name: "gonet-tls", Label: "Go net + crypto/tls, goroutine/conn", Binary: "patterns", Protos: both,
			TLS: true, Plain: "gonet", args: tlsPatternArgs("goroutine")},
	}
}

// parseExtra parses an -extra flag, name=command, where the command may use
// {port}, {addr} and {cpus}. Extra servers speak echo only, and their CPU
// and memory are summed over their process group.
func parseExtra(s string) (*serverSpec, error) {
	name, command, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	fields := strings.Fields(command)
	if !ok || name == "" || len(fields) == 0 {
		return nil, fmt.Errorf("%w: -extra %q: want name=command", errUsage, s)
	}
	if !strings.Contains(command, "{port}") && !strings.Contains(command, "{addr}") {
		return nil, fmt.Errorf("%w: -extra %q: the command must contain {port} or {addr}", errUsage, s)
	}
	return &serverSpec{Name: name, Label: name + " (extra)", Binary: "", Protos: []handler.Proto{handler.Echo},
		MultiProcess: true, command: fields, args: func(a serverArgs) []string {
			r := strings.NewReplacer("{port}", strconv.Itoa(a.port), "{addr}", a.addr(), "{cpus}", strconv.Itoa(a.cpus))
			out := make([]string, len(fields)-1)
			for i, f := range fields[1:] {
				out[i] = r.Replace(f)
			}
			return out
		}}, nil
}

// applies says whether server s can run workload w, and why not.
func applies(s *serverSpec, w workload) (bool, string) {
	switch {
	case w.TLS && !s.TLS:
		return false, "no TLS"
	case !w.TLS && s.TLS:
		return false, "TLS only"
	}
	if !slices.Contains(s.Protos, w.Proto) {
		return false, "speaks echo only"
	}
	if s.Capacity > 0 && w.simultaneous() && w.Conns > s.Capacity {
		return false, fmt.Sprintf("serves %d at once", s.Capacity)
	}
	return true, ""
}
