package ftp

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"io"
	"os"
	"strings"

	"github.com/reactorkit/reactor/conn"
)

// Explicit FTPS (RFC 4217). AUTH TLS answers 234 in plaintext, then the
// control connection becomes TLS with conn.StartTLSWith: bytes the client sent
// behind the AUTH line go to the handshake, never to the command parser
// (so plaintext commands cannot be injected into the protected session).
// PBSZ 0 and PROT P then ask for TLS on each data connection, where the
// server is the TLS server (RFC 4217 §7) whichever side connected.
//
// A TLS data connection's transfer goes through one more phase than a
// plaintext one (see transfer):
//
//	waiting ── connected ──► securing ── handshake's Done ──► running
//	                            └── handshake failed or timed out, or
//	                                no session reuse when required ──► 522
//
// Binary downloads cannot use sendfile there (the bytes must be
// encrypted): a producer reads the file on the disk workers chunk by chunk
// and the connection's watermarks pace it, as for listings.

// sessionTag marks the TLS session tickets a session's connections issue;
// must be followed by the session's random tag.
const sessionTag = "reactor/ftp session "

// sessionTLS returns the TLS configuration of one session: the server's,
// with session tickets that carry a tag of this session, so that a data
// connection resumes only a session of its own control connection (the
// check vsftpd's require_ssl_reuse makes) and never one of another
// client's. A configuration that brings its own ticket handling, or has
// tickets off, is used as it is.
func (srv *Server) sessionTLS() *tls.Config {
	base := srv.cfg.tls
	if base.SessionTicketsDisabled || base.WrapSession != nil || base.UnwrapSession != nil {
		return base
	}
	tag := make([]byte, len(sessionTag)+16)
	copy(tag, sessionTag)
	rand.Read(tag[len(sessionTag):])
	cfg := base.Clone()
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = append(ss.Extra, tag)
		return base.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := base.DecryptTicket(identity, cs)
		if err != nil || ss == nil {
			return nil, nil // not resumable: a full handshake
		}
		for _, e := range ss.Extra {
			if bytes.Equal(e, tag) {
				return ss, nil
			}
		}
		return nil, nil // another session's ticket
	}
	return cfg
}

// cmdAUTH upgrades the control connection (RFC 4217 §4). TLS-C is TLS;
// SSL and TLS-P also protect data connections at once, as vsftpd has it
// from the drafts before RFC 4217.
func (s *session) cmdAUTH(arg string) {
	switch {
	case s.srv.cfg.tls == nil:
		s.reply(502, "AUTH not supported: this server has no TLS configured.")
		return
	case s.tlsCfg != nil:
		s.reply(503, "Already using TLS.")
		return
	}
	mech := strings.ToUpper(arg)
	switch mech {
	case "TLS", "TLS-C", "SSL", "TLS-P":
	default:
		s.reply(504, "Unknown AUTH type.")
		return
	}
	s.tlsCfg = s.srv.sessionTLS()
	s.protP = mech == "SSL" || mech == "TLS-P"
	s.reply(234, "Proceed with negotiation.")
	// The 234 leaves in plaintext; everything after it is TLS. What the
	// client sent behind AUTH is already buffered and goes to the
	// handshake: the command loop finds no more input and stops.
	s.flush()
	if err := s.c.StartTLSWith(s.tlsCfg, conn.Upgrade{Timeout: s.srv.cfg.tlsHandshake}); err != nil {
		s.srv.cfg.logger.Warn("ftp: AUTH TLS", "remote", s.peer, "err", err)
		s.c.Close()
	}
}

// cmdPBSZ accepts the only buffer size TLS has (RFC 4217 §8): any value
// is taken for 0.
func (s *session) cmdPBSZ(string) {
	if s.tlsCfg == nil {
		s.reply(503, "PBSZ needs a secure connection.")
		return
	}
	s.reply(200, "PBSZ set to 0.")
}

// cmdPROT sets the protection of the next data connections (RFC 4217
// §9): C clear, P private (TLS); S and E have no TLS meaning.
func (s *session) cmdPROT(arg string) {
	if s.tlsCfg == nil {
		s.reply(503, "PROT needs a secure connection.")
		return
	}
	switch strings.ToUpper(arg) {
	case "C":
		s.protP = false
		s.reply(200, "PROT now Clear.")
	case "P":
		s.protP = true
		s.reply(200, "PROT now Private.")
	case "S", "E":
		s.reply(536, "PROT not supported.")
	default:
		s.reply(504, "PROT not recognized.")
	}
}

// cmdCCC refuses to clear the control connection (RFC 4217 §6): commands
// after it would travel in plaintext, open to injection.
func (s *session) cmdCCC(string) {
	if s.tlsCfg == nil {
		s.reply(533, "CCC needs a secure connection.")
		return
	}
	s.reply(534, "CCC denied: the control connection stays encrypted.")
}

// loginNeedsTLS refuses USER before AUTH TLS under WithRequireTLS, with
// vsftpd's words; it reports whether it did.
func (s *session) loginNeedsTLS(name string) bool {
	if !s.srv.cfg.requireTLS || s.tlsCfg != nil {
		return false
	}
	if s.srv.accts.anon != nil && (strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp")) {
		s.reply(530, "Anonymous sessions must use encryption.")
	} else {
		s.reply(530, "Non-anonymous sessions must use encryption.")
	}
	return true
}

// dataProtectionOK replies 522 and returns false when WithRequireTLS wants
// PROT P for the next transfer.
func (s *session) dataProtectionOK() bool {
	if s.srv.cfg.requireTLS && !s.protP {
		s.reply(522, "Data connections must be encrypted.")
		return false
	}
	return true
}

// tlsStatus is STAT's line about protection.
func (s *session) tlsStatus() string {
	data := "Clear"
	if s.protP {
		data = "Private"
	}
	st, ok := s.c.TLSState()
	if !ok {
		return "Control connection: plaintext; data connections: " + data
	}
	return "Control connection: " + tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite) +
		"; data connections: " + data
}

// startDataTLS begins the TLS handshake of the transfer's data connection,
// as the TLS server whichever side connected (RFC 4217 §7: in active mode
// too, where we dialed the client). handshaken runs when it ends.
func (x *transfer) startDataTLS(c *conn.Conn) {
	x.phase = xSecuring
	// StartTLSWith first: it hands whatever is buffered (an early
	// ClientHello) to the handshake, so resuming reads cannot deliver it
	// as data.
	err := c.StartTLSWith(x.s.tlsCfg, conn.Upgrade{
		Role:    conn.RoleServer,
		Timeout: x.s.srv.cfg.tlsHandshake,
		Done:    func(_ *conn.Conn, err error) { x.handshaken(c, err) },
	})
	if err != nil {
		x.fail(522, "SSL connection failed: "+err.Error())
		return
	}
	c.ResumeRead() // the handshake reads from the client
}

// handshaken runs on the loop when the handshake of the transfer's data
// connection c has ended: the transfer starts if the session it resumed
// is acceptable. A failed handshake has closed c already, and dataClosed
// has replied 522. Done may come more than once (a close from inside it
// reports the handshake once more), hence the phase check.
func (x *transfer) handshaken(c *conn.Conn, err error) {
	if err != nil || x.phase != xSecuring || x.d.c != c {
		return
	}
	st, ok := c.TLSState()
	switch {
	case !ok:
		return
	case x.s.srv.cfg.requireReuse && !st.DidResume:
		x.s.srv.cfg.logger.Warn("ftp: TLS data connection without session reuse", "remote", x.s.peer, "path", x.vpath)
		x.fail(522, "SSL connection failed: session reuse required.")
	default:
		x.run()
	}
	// Done runs as a loop task, outside the session's callbacks: the
	// reply goes out, and a command that waited for the transfer runs.
	x.s.resume()
}

// fileReader is the producer of a binary download over TLS: the file read
// from the REST offset on, in chunks.
type fileReader struct {
	f   *os.File
	off int64
	buf []byte
}

// fileChunk is what fileReader.next reads at a time.
const fileChunk = 128 << 10

func (r *fileReader) next() ([]byte, bool, error) {
	if r.buf == nil {
		r.buf = make([]byte, fileChunk)
	}
	n, err := r.f.ReadAt(r.buf, r.off)
	r.off += int64(n)
	if err == io.EOF {
		return r.buf[:n], true, nil
	}
	return r.buf[:n], false, err
}

func (r *fileReader) close() { r.f.Close() }
