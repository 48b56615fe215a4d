// Package ftp is an FTP server (RFC 959, with RFC 2389 FEAT/OPTS, RFC 2428
// EPSV/EPRT, RFC 3659 SIZE/MDTM/REST/MLST/MLSD/TVFS, RFC 2640 UTF-8) that
// runs as a reactor protocol: give a Server to loop.Server.Listen as the
// Protocol of the control port.
//
//	srv, err := ftp.New(ftp.WithAnonymous("/srv/ftp"))
//	…
//	ls, err := loop.NewServer()
//	…
//	_, err = ls.Listen("tcp", "127.0.0.1:2121", srv)
//	…
//	ls.Shutdown(ctx) // each session is told 421, after its transfer
//	srv.Close()      // then the worker goroutines stop
//
// Each control connection is a session (see session for its states). Its
// data connections, passive (PASV, EPSV) or active (PORT, EPRT), are
// reactor connections on the control connection's loop, so a session's
// state needs no locks. Everything that may block — opening, listing,
// reading and writing files, checking bcrypt hashes — runs on bounded pools
// of worker goroutines that hand their results back to the loop, so a
// session listing a huge folder never delays the others. Binary downloads
// go from the page cache to the socket with sendfile(2).
//
// Paths are virtual: "/" is the user's root folder, opened with os.Root, so
// neither ".." nor a symlink can lead outside it. Anonymous users are
// read-only; named users (WithUser, or a bcrypt users file) may be
// read-write. The limits vsftpd applies for safety apply here too: active
// connections only to the client's own address and to ports 1024 and up
// (no FTP bounce), passive connections only from the client's address,
// failed logins delayed and counted, command lines bounded, sessions
// capped in total and per address.
//
// Before login a session is served USER, PASS, QUIT, SYST, FEAT, OPTS,
// HELP, NOOP and AUTH, and five more that give nothing away: REIN (it only
// returns to that state), ACCT (answered 502), and PBSZ, PROT and CCC,
// which curl sends right after AUTH TLS, before USER, and vsftpd serves
// there too (without TLS they answer 503 or 533). Every other command,
// STAT and SITE HELP included, gets 530.
//
// FTPS, explicit (RFC 4217), is served when WithTLS gives a certificate:
// AUTH TLS (or SSL) turns the control connection into TLS right after the
// 234 reply, PBSZ 0 and PROT P put each data connection under TLS too, the
// server taking the TLS server's role, and PROT C takes them back to
// plaintext. Data connections resume the control connection's TLS session
// when the client offers it (curl and lftp do), and WithRequireTLSReuse
// makes that a condition, as vsftpd's require_ssl_reuse; WithRequireTLS
// refuses logins before AUTH TLS and transfers without PROT P. CCC is
// refused. PROT P serves passive and active data connections alike: on
// the connection it dials for PORT or EPRT the server is still the TLS
// server (RFC 4217 §7). Under PROT P downloads are read by the disk
// workers and encrypted on the loop instead of going out with sendfile.
package ftp
