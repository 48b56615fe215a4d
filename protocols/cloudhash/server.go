package cloudhash

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// persister writes snapshots of a store to its data file: one at a time,
// in the caller's goroutine (Save) or in a tracked goroutine (background),
// never on an event loop.
type persister struct {
	st     *Store       // immutable
	path   string       // the data file; "" means none; immutable
	logger *slog.Logger // immutable

	saveMu sync.Mutex // held while a snapshot is written

	// mu guards closed and the wg.Add of background saves, so that no save
	// starts once close has begun waiting.
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup

	busy     atomic.Bool  // a background save is running
	lastSave atomic.Int64 // Unix seconds of the last successful save
}

func newPersister(st *Store, path string, logger *slog.Logger) *persister {
	p := &persister{st: st, path: path, logger: logger}
	p.lastSave.Store(time.Now().Unix())
	return p
}

// save writes a snapshot now. Goroutine-safe; blocks.
func (p *persister) save() error {
	if p.path == "" {
		return ErrNoDataFile
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	start := time.Now()
	if err := p.st.Save(p.path); err != nil {
		p.logger.Error("cloudhash: snapshot failed", "file", p.path, "err", err)
		return err
	}
	p.lastSave.Store(time.Now().Unix())
	p.logger.Info("cloudhash: snapshot saved", "file", p.path, "keys", p.st.Len(), "took", time.Since(start))
	return nil
}

// background runs save on a new goroutine and then done(err) on it, unless
// a background save is running already (ErrSaveInProgress) or the
// persister is closing (loop.ErrServerClosed); in those cases done is not
// called. Goroutine-safe.
func (p *persister) background(done func(error)) error {
	if p.path == "" {
		return ErrNoDataFile
	}
	if !p.busy.CompareAndSwap(false, true) {
		return ErrSaveInProgress
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.busy.Store(false)
		return loop.ErrServerClosed
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		err := p.save()
		p.busy.Store(false)
		if done != nil {
			done(err)
		}
	}()
	return nil
}

// close stops new background saves and waits for the running ones.
func (p *persister) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

// Server is a CloudHash server: one Store served on up to three listeners
// (line and EOF-framed, length-prefixed, RESP2) of one loop.Server, with
// active expiry on the loops' timers and snapshots to a data file. Its
// methods are goroutine-safe; Shutdown and Close must not be called from
// an event loop.
type Server struct {
	cfg     config       // immutable
	st      *Store       // immutable
	ls      *loop.Server // immutable
	persist *persister   // immutable

	line, length, resp *loop.Listener // nil when disabled; immutable

	closeOnce sync.Once
	closeErr  error
}

// NewServer builds the store (loading the data file if it exists; a
// corrupt one is an error matching ErrCorruptSnapshot), starts the event
// loops, opens the listeners and starts active expiry. Stop it with
// Shutdown.
func NewServer(opts ...Option) (*Server, error) {
	cfg := newConfig(opts)
	st := NewStore(cfg.shards, cfg.maxMemory)
	if cfg.dataFile != "" {
		if err := st.Load(cfg.dataFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		} else if err == nil {
			cfg.logger.Info("cloudhash: snapshot loaded", "file", cfg.dataFile, "keys", st.Len())
		}
	}
	ls, err := loop.NewServer(append([]loop.Option{loop.WithLogger(cfg.logger)}, cfg.loopOpts...)...)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, st: st, ls: ls, persist: newPersister(st, cfg.dataFile, cfg.logger)}
	listen := func(addr string, p loop.Protocol, extra ...loop.Option) (*loop.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		return ls.Listen("tcp", addr, p, append(cfg.listenOptions(), extra...)...)
	}
	var respOpts []loop.Option
	if cfg.respTLS != nil {
		respOpts = append(respOpts, loop.WithTLS(cfg.respTLS))
	}
	if s.line, err = listen(cfg.lineAddr, newLine(st, &s.cfg)); err == nil {
		if s.length, err = listen(cfg.lengthAddr, newLength(st, &s.cfg)); err == nil {
			s.resp, err = listen(cfg.respAddr, newRESP(st, &s.cfg, s.persist), respOpts...)
		}
	}
	if err != nil {
		ls.Close()
		return nil, fmt.Errorf("cloudhash: %w", err)
	}
	if err := StartActiveExpiry(ls, st, cfg.expiryInterval); err != nil {
		ls.Close()
		return nil, err
	}
	return s, nil
}

// Store returns the server's key space.
func (s *Server) Store() *Store { return s.st }

// Loops returns the loop.Server the listeners run on.
func (s *Server) Loops() *loop.Server { return s.ls }

func addrOf(ln *loop.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// LineAddr returns the bound address of the line listener, nil if disabled.
func (s *Server) LineAddr() net.Addr { return addrOf(s.line) }

// LengthAddr returns the bound address of the length-prefixed listener,
// nil if disabled.
func (s *Server) LengthAddr() net.Addr { return addrOf(s.length) }

// RESPAddr returns the bound address of the RESP2 listener, nil if
// disabled.
func (s *Server) RESPAddr() net.Addr { return addrOf(s.resp) }

// Save writes a snapshot to the data file now and returns when it is on
// disk: ErrNoDataFile without one.
func (s *Server) Save() error { return s.persist.save() }

// Shutdown stops the server gracefully: the listeners close, connections
// drain (answering what they have read) until ctx is done, background
// saves finish, and then, with a data file, a last snapshot is written.
// It returns the drain's error joined with the snapshot's. Later calls
// return the first call's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		drainErr := s.ls.Shutdown(ctx)
		if errors.Is(drainErr, context.Canceled) || errors.Is(drainErr, context.DeadlineExceeded) {
			s.cfg.logger.Warn("cloudhash: connections did not drain in time; closed them", "err", drainErr)
			drainErr = nil
		}
		s.persist.close()
		var saveErr error
		if s.cfg.dataFile != "" {
			saveErr = s.persist.save()
		}
		s.closeErr = errors.Join(drainErr, saveErr)
	})
	return s.closeErr
}

// Close is Shutdown without waiting for connections to drain; the final
// snapshot is still written.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}

// StartActiveExpiry runs active expiry on every loop of ls: each loop
// samples its share of st's shards every interval, within a budget of a
// quarter of the interval's 1/10 (Redis's 25% of a cycle, spread thin).
// interval <= 0 does nothing. The timers stop with the loops.
func StartActiveExpiry(ls *loop.Server, st *Store, interval time.Duration) error {
	if interval <= 0 {
		return nil
	}
	loops := ls.Loops()
	budget := max(interval/40, 100*time.Microsecond)
	for i, l := range loops {
		if err := l.Submit(func() {
			t := &expiryTimer{l: l, st: st, offset: i, stride: len(loops), interval: interval, budget: budget}
			t.timer = l.AfterFunc(interval, t.run)
		}); err != nil {
			return err
		}
	}
	return nil
}

// expiryTimer is one loop's active-expiry timer; loop goroutine only.
type expiryTimer struct {
	l              *loop.Loop
	st             *Store
	offset, stride int
	interval       time.Duration
	budget         time.Duration
	timer          *conn.Timer
}

func (t *expiryTimer) run() {
	t.st.ExpireCycle(t.offset, t.stride, t.budget, nowMillis())
	t.l.Reset(t.timer, t.interval)
}
