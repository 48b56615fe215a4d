// Package debughttp serves a running example's statistics (expvar, under
// "reactor") and profiles (net/http/pprof) on a debug address.
package debughttp

import (
	"errors"
	"expvar"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/reactorkit/reactor/loop"
)

// Serve publishes s.Stats() as the expvar "reactor" and serves /debug/vars
// and /debug/pprof/ on addr until the returned function is called. An empty
// addr serves nothing.
func Serve(addr string, s *loop.Server) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	stats := expvar.Func(func() any { return s.Stats() })
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/vars", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte(`{"reactor": `))
		w.Write([]byte(stats.String()))
		w.Write([]byte(`, "memstats": `))
		w.Write([]byte(expvar.Get("memstats").String()))
		w.Write([]byte("}\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Warn("debug server", "err", err)
		}
	}()
	slog.Info("debug server: stats at /debug/vars, profiles at /debug/pprof/", "addr", ln.Addr())
	return func() { srv.Close() }, nil
}
