package ftp

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/reactorkit/reactor/conn"
	"github.com/reactorkit/reactor/loop"
)

// Data connections queue at most dataHighWatermark bytes before the
// producers of listings and ASCII downloads wait for OnWritable; the
// listener and dial options below set the same watermarks (must match).
const (
	dataHighWatermark = 1 << 20
	dataLowWatermark  = 256 << 10
)

// A dataChan is one data connection of a session, from PASV or PORT until
// it is used by a transfer or discarded:
//
//	PASV/EPSV ─► listening ─ client connects (from the control peer) ─┐
//	PORT/EPRT ─► dialing ──── connected (then 200) ────────────────────┴─► open ─► transfer ─► closed
//
// Any state ends in discard: a new PASV or PORT, ABOR, the accept timeout,
// the end of its transfer, or of the session. It is the loop.Protocol of
// its listener or dial, so its callbacks run on the session's loop. Loop
// goroutine only.
type dataChan struct {
	s      *session
	ln     *loop.Listener     // passive, until the connection arrives
	timer  *conn.Timer        // the accept timeout of a passive port
	cancel context.CancelFunc // cancels an active dial
	c      *conn.Conn         // the connection, once open
	x      *transfer          // the transfer using the connection
	done   bool               // discarded: late events are ignored
}

var _ loop.Protocol = (*dataChan)(nil)

// dataOptions are the options of every data listener and dial.
func (s *session) dataOptions() []loop.Option {
	return []loop.Option{loop.WithWriteWatermarks(dataHighWatermark, dataLowWatermark)}
}

// OnOpen implements loop.Protocol: the data connection is established.
func (d *dataChan) OnOpen(c *conn.Conn) {
	if d.done || d.c != nil {
		c.Abort(nil)
		return
	}
	if d.ln != nil {
		// Passive: only the control connection's peer may connect, or a
		// third party could steal or inject a transfer (RFC 2577 §3).
		if ip := addrIP(c.RemoteAddr()); ip != d.s.peer {
			d.s.srv.cfg.logger.Warn("ftp: refused data connection from a foreign address",
				"from", ip, "session", d.s.peer)
			c.Abort(nil)
			return
		}
		// One connection per port: the listener closes here, which also
		// ends the accept batch it is in.
		d.ln.Close()
		d.ln = nil
		if d.timer != nil {
			d.timer.Stop()
		}
	}
	d.c = c
	c.SetIdleTimeout(d.s.srv.cfg.stall)
	c.SetWriteTimeout(d.s.srv.cfg.stall)
	if d.x != nil {
		d.x.connected()
		d.s.flush()
		return
	}
	// Bytes a client sends before its STOR is accepted stay in the socket.
	c.PauseRead()
}

// OnData implements loop.Protocol: upload bytes go to the transfer; a
// download's data connection receives nothing worth keeping. Under TLS
// the first decrypted bytes come after the handshake's Done (see
// transfer.handshaken), so a running upload takes them.
func (d *dataChan) OnData(c *conn.Conn) {
	if c == d.c && d.x != nil && d.x.upload() && d.x.phase == xRunning {
		d.x.received()
		d.s.flush()
		return
	}
	c.Discard(0)
}

// OnWritable implements loop.Protocol: a producer waiting for room goes on.
func (d *dataChan) OnWritable(c *conn.Conn) {
	if c == d.c && d.x != nil {
		d.x.writable()
		d.s.flush()
	}
}

// OnClose implements loop.Protocol.
func (d *dataChan) OnClose(c *conn.Conn, err error) {
	if c != d.c {
		return
	}
	d.c = nil
	switch {
	case d.x != nil:
		d.x.dataClosed(err)
		d.s.flush()
		d.s.resume()
	case d.s.data == d:
		d.s.data = nil // closed before any transfer used it
	}
}

// discard closes whatever the channel holds, resetting an open connection
// rather than flushing it.
func (d *dataChan) discard() {
	d.done = true
	if d.ln != nil {
		d.ln.Close()
		d.ln = nil
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	if d.cancel != nil {
		d.cancel()
	}
	if c := d.c; c != nil {
		d.c = nil
		c.Abort(nil) // drops what is queued and resets the connection
	}
}

// cmdPASV opens a passive data port and announces it the RFC 959 way.
func (s *session) cmdPASV(string) {
	if s.epsvAll {
		s.reply(501, "PASV not allowed after EPSV ALL.")
		return
	}
	local := addrIP(s.c.LocalAddr())
	if !local.Is4() {
		s.reply(522, "PASV is IPv4 only; use EPSV.")
		return
	}
	port, ok := s.listenPassive(local)
	if !ok {
		return
	}
	ip := local
	if s.srv.cfg.publicIP.Is4() {
		ip = s.srv.cfg.publicIP
	}
	a := ip.As4()
	s.reply(227, "Entering Passive Mode ("+strconv.Itoa(int(a[0]))+","+strconv.Itoa(int(a[1]))+","+
		strconv.Itoa(int(a[2]))+","+strconv.Itoa(int(a[3]))+","+strconv.Itoa(port>>8)+","+strconv.Itoa(port&0xff)+").")
}

// cmdEPSV opens a passive data port and announces only its port (RFC 2428
// §3), or with ALL, refuses every other way to set up a data connection
// from now on.
func (s *session) cmdEPSV(arg string) {
	local := addrIP(s.c.LocalAddr())
	want := "1"
	if !local.Is4() {
		want = "2"
	}
	switch {
	case strings.EqualFold(arg, "ALL"):
		s.epsvAll = true
		s.reply(200, "EPSV ALL ok.")
		return
	case arg != "" && arg != want:
		s.reply(522, "Network protocol not supported, use ("+want+").")
		return
	}
	port, ok := s.listenPassive(local)
	if !ok {
		return
	}
	s.reply(229, "Entering Extended Passive Mode (|||"+strconv.Itoa(port)+"|).")
}

// listenPassive replaces the data channel with a passive port on the
// control connection's local address, from the configured range when there
// is one; on failure it replies 425.
func (s *session) listenPassive(local netip.Addr) (port int, ok bool) {
	s.dropData()
	d := &dataChan{s: s}
	ports := []int{0}
	if lo, hi := s.srv.cfg.pasvLo, s.srv.cfg.pasvHi; lo != 0 {
		// Every port of the range once, from a random start.
		n := hi - lo + 1
		start := rand.IntN(n)
		ports = ports[:0]
		for i := range n {
			ports = append(ports, lo+(start+i)%n)
		}
	}
	var ln *loop.Listener
	var err error
	for _, p := range ports {
		ln, err = s.lp.Listen("tcp", netip.AddrPortFrom(local, uint16(p)).String(), d, s.dataOptions()...)
		if err == nil {
			break
		}
	}
	if err != nil {
		s.srv.cfg.logger.Warn("ftp: no passive port", "err", err)
		s.reply(425, "Can't open passive data port.")
		return 0, false
	}
	d.ln = ln
	if t := s.srv.cfg.accept; t > 0 {
		d.timer = s.lp.AfterFunc(t, d.acceptTimeout)
	}
	s.data = d
	return ln.Addr().(*net.TCPAddr).Port, true
}

// acceptTimeout closes a passive port nobody connected to in time; a
// transfer waiting for it fails with 425.
func (d *dataChan) acceptTimeout() {
	if d.done || d.ln == nil {
		return
	}
	s := d.s
	if d.x != nil {
		d.x.fail(425, "Can't open data connection: the client did not connect in time.")
	} else {
		d.discard()
		if s.data == d {
			s.data = nil
		}
	}
	s.flush()
	s.resume()
}

// cmdPORT sets up an active data connection to h1.h2.h3.h4:p1*256+p2.
func (s *session) cmdPORT(arg string) {
	if s.epsvAll {
		s.reply(501, "PORT not allowed after EPSV ALL.")
		return
	}
	f := strings.Split(arg, ",")
	var v [6]byte
	if len(f) != 6 {
		s.reply(501, "Invalid PORT format.")
		return
	}
	for i, x := range f {
		n, err := strconv.ParseUint(strings.TrimSpace(x), 10, 8)
		if err != nil {
			s.reply(501, "Invalid PORT format.")
			return
		}
		v[i] = byte(n)
	}
	if !s.peer.Is4() {
		s.reply(522, "PORT is IPv4 only; use EPRT.")
		return
	}
	ip := netip.AddrFrom4([4]byte{v[0], v[1], v[2], v[3]})
	s.dialActive(netip.AddrPortFrom(ip, uint16(v[4])<<8|uint16(v[5])))
}

// cmdEPRT sets up an active data connection from |proto|address|port|
// (RFC 2428 §2); any character may stand for '|'.
func (s *session) cmdEPRT(arg string) {
	if s.epsvAll {
		s.reply(501, "EPRT not allowed after EPSV ALL.")
		return
	}
	f := strings.Split(arg, arg[:1])
	if len(f) != 5 || f[0] != "" || f[1] == "" || f[2] == "" || f[3] == "" || f[4] != "" {
		s.reply(501, "Invalid EPRT format.")
		return
	}
	want := "1"
	if !s.peer.Is4() {
		want = "2"
	}
	if f[1] != want {
		s.reply(522, "Network protocol not supported, use ("+want+").")
		return
	}
	ip, err := netip.ParseAddr(f[2])
	port, perr := strconv.ParseUint(f[3], 10, 16)
	if err != nil || perr != nil || ip.Zone() != "" || (want == "1") != ip.Is4() {
		s.reply(501, "Invalid EPRT format.")
		return
	}
	s.dialActive(netip.AddrPortFrom(ip, uint16(port)))
}

// dialActive connects to the client's data port, refusing the FTP bounce:
// only the control connection's peer, only unprivileged ports (RFC 2577
// §3, as vsftpd and pyftpdlib do). The reply waits for the connection: 200
// or 425. Under PROT P the transfer makes it TLS later, with us as the TLS
// server although we dialed (RFC 4217 §7).
func (s *session) dialActive(to netip.AddrPort) {
	switch {
	case to.Addr().Unmap() != s.peer:
		s.reply(501, "Rejected data connection to foreign address "+to.Addr().String()+".")
		return
	case to.Port() < 1024:
		s.reply(501, "PORT to privileged port "+strconv.Itoa(int(to.Port()))+" refused.")
		return
	}
	s.dropData()
	d := &dataChan{s: s}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	s.data = d
	s.busy = true
	// The connection leaves from the address the client reached us on, as
	// vsftpd's does, so the client sees its data come from the server it
	// talks to on a host with several addresses.
	local := addrIP(s.c.LocalAddr())
	opts := append(s.dataOptions(), loop.WithConnectTimeout(s.srv.cfg.accept),
		loop.WithLocalAddr(&net.TCPAddr{IP: local.AsSlice(), Zone: local.Zone()}))
	// done may run inside Dial (a connect that finishes at once); then the
	// command loop that called us goes on by itself.
	inDial := true
	s.lp.Dial(ctx, "tcp", to.String(), d, func(c *conn.Conn, err error) {
		cancel()
		if d.done || s.closed {
			return // discarded meanwhile; OnOpen already closed c
		}
		s.busy = false
		if err != nil {
			if s.data == d {
				s.data = nil
			}
			s.reply(425, "Can't open data connection.")
		} else {
			s.reply(200, "PORT command successful. Consider using PASV.")
		}
		if !inDial {
			s.resume()
		}
	}, opts...)
	inDial = false
}

// cmdABOR aborts the transfer in progress (426, then 226) or closes the
// data channel (225), per RFC 959 §4.1.3.
func (s *session) cmdABOR(string) {
	switch {
	case s.xfer != nil:
		s.xfer.abort()
		s.reply(426, "Transfer aborted.")
		s.reply(226, "ABOR successful.")
		s.afterTransfer()
	case s.data != nil:
		s.dropData()
		s.reply(225, "ABOR successful; data channel closed.")
	default:
		s.reply(225, "No transfer to abort.")
	}
}
