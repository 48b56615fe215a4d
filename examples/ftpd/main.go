// Command ftpd serves a folder over FTP with reactor's event loops. With no
// flags it serves the current folder read-only to anonymous users on
// 127.0.0.1:2121:
//
//	go run ./examples/ftpd
//	go run ./examples/ftpd -addr :2121 -root /srv/ftp -user alice -pass secret
//	go run ./examples/ftpd -anonymous=false -users users.txt -passive-ports 50000-50100
//
// A users file holds one account per line, name:bcrypt-hash[:root[:ro|rw]]
// (`htpasswd -nbB name password` prints the first two fields). SIGINT or
// SIGTERM shuts the server down gracefully: transfers get a few seconds to
// finish, then sessions are told 421.
//
// FTPS (explicit, AUTH TLS) is on with a certificate, from files or made
// at start-up; the self-signed one is written to a file that clients can
// trust, and its SHA-256 fingerprint is printed:
//
//	go run ./examples/ftpd -tls-cert cert.pem -tls-key key.pem -require-tls
//	go run ./examples/ftpd -tls-self-signed
//	curl --ssl-reqd --cacert /tmp/reactor-tls-123/ca.pem ftp://127.0.0.1:2121/ # the path printed
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reactorkit/reactor/examples/internal/debughttp"
	"github.com/reactorkit/reactor/examples/internal/fdlimit"
	"github.com/reactorkit/reactor/examples/internal/tlsflags"
	"github.com/reactorkit/reactor/loop"
	"github.com/reactorkit/reactor/poller"
	"github.com/reactorkit/reactor/protocols/ftp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "ftpd:", err)
		os.Exit(1)
	}
}

// options are the command line's flags.
type options struct {
	addr, root, user, pass, users, passivePorts, publicIP string
	anonymous                                             bool
	maxSessions, maxPerIP                                 int
	idleTimeout                                           time.Duration

	tlsCert, tlsKey                     string
	tlsSelfSigned, requireTLS, tlsReuse bool

	debugAddr string // serves stats (expvar) and pprof when set
}

// Shutdown: how long a stop waits for sessions, and how long of that a
// running transfer may still take before it is told 426.
const (
	shutdownTimeout = 10 * time.Second
	shutdownGrace   = 8 * time.Second
)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ftpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:2121", "address to listen on (:2121 for every interface)")
	fs.StringVar(&o.root, "root", "", "folder to serve (default: the current folder)")
	fs.BoolVar(&o.anonymous, "anonymous", true, "let anonymous users in, read-only")
	fs.StringVar(&o.user, "user", "", "name of a read-write account (needs -pass)")
	fs.StringVar(&o.pass, "pass", "", "password of the -user account")
	fs.StringVar(&o.users, "users", "", "users file: name:bcrypt-hash[:root[:ro|rw]] per line")
	fs.StringVar(&o.passivePorts, "passive-ports", "", "passive port range such as 50000-50100 (default: ports the kernel picks)")
	fs.StringVar(&o.publicIP, "public-ip", "", "IPv4 address to announce in PASV replies (default: the control connection's local address)")
	fs.IntVar(&o.maxSessions, "max-sessions", ftp.DefaultMaxSessions, "most sessions at once (0: no limit)")
	fs.IntVar(&o.maxPerIP, "max-per-ip", 0, "most sessions from one address (0: no limit)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", ftp.DefaultIdleTimeout, "close sessions idle this long (0: never)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) for FTPS: AUTH TLS, PROT P (needs -tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of -tls-cert")
	fs.BoolVar(&o.tlsSelfSigned, "tls-self-signed", false, "FTPS with a certificate made at start-up; its file for clients to trust is printed")
	fs.BoolVar(&o.requireTLS, "require-tls", false, "refuse logins before AUTH TLS (530) and transfers without PROT P (522)")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "serve stats (expvar) and pprof on this address")
	fs.BoolVar(&o.tlsReuse, "require-tls-reuse", false, "refuse TLS data connections that do not resume the control connection's session (522), as vsftpd's require_ssl_reuse")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// serverOptions turns the flags into ftp options.
func serverOptions(o options) ([]ftp.Option, error) {
	opts := []ftp.Option{
		ftp.WithMaxSessions(o.maxSessions),
		ftp.WithMaxSessionsPerIP(o.maxPerIP),
		ftp.WithIdleTimeout(o.idleTimeout),
		ftp.WithShutdownGrace(shutdownGrace),
	}
	if o.anonymous {
		opts = append(opts, ftp.WithAnonymous(o.root))
	}
	switch {
	case o.user != "" && o.pass == "":
		return nil, errors.New("-user needs -pass")
	case o.user == "" && o.pass != "":
		return nil, errors.New("-pass needs -user")
	case o.user != "":
		opts = append(opts, ftp.WithUser(o.user, o.pass, o.root, ftp.ReadWrite))
	}
	if o.users != "" {
		opts = append(opts, ftp.WithUsersFile(o.users, o.root))
	}
	if o.passivePorts != "" {
		lo, hi, ok := strings.Cut(o.passivePorts, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("-passive-ports %q: want LOW-HIGH", o.passivePorts)
		}
		opts = append(opts, ftp.WithPassivePorts(l, h))
	}
	if o.publicIP != "" {
		ip, err := netip.ParseAddr(o.publicIP)
		if err != nil || !ip.Unmap().Is4() {
			return nil, fmt.Errorf("-public-ip %q: want an IPv4 address", o.publicIP)
		}
		opts = append(opts, ftp.WithPublicIP(ip))
	}
	// tlsflags refuses -tls-self-signed with -tls-cert.
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return nil, errors.New("-tls-cert and -tls-key go together")
	case (o.requireTLS || o.tlsReuse) && o.tlsCert == "" && !o.tlsSelfSigned:
		return nil, errors.New("-require-tls and -require-tls-reuse need -tls-cert or -tls-self-signed")
	}
	if o.requireTLS {
		opts = append(opts, ftp.WithRequireTLS(true))
	}
	if o.tlsReuse {
		opts = append(opts, ftp.WithRequireTLSReuse(true))
	}
	return opts, nil
}

// tlsSetup is the FTPS configuration the flags ask for (nil without FTPS)
// and the SHA-256 fingerprint of its certificate; caFile is the file a
// self-signed certificate was written to ("" for -tls-cert), which the
// caller removes with removeCA at exit.
func tlsSetup(o options) (cfg *tls.Config, caFile, fingerprint string, err error) {
	f := tlsflags.Flags{CertFile: o.tlsCert, KeyFile: o.tlsKey, SelfSigned: o.tlsSelfSigned}
	cfg, caFile, err = f.Config(selfSignedHosts(o)...)
	if err != nil || cfg == nil {
		return nil, "", "", err
	}
	return cfg, caFile, tlsflags.Fingerprint(cfg), nil
}

// removeCA deletes the self-signed certificate's file and its folder.
func removeCA(caFile string) {
	if err := tlsflags.RemoveCA(caFile); err != nil {
		slog.Warn("ftpd: removing the self-signed certificate's file", "err", err)
	}
}

// selfSignedHosts are the names a self-signed certificate is made for,
// besides the loopback names tlsflags always adds (localhost, 127.0.0.1,
// ::1): the listening host, unless it listens everywhere, and the public
// IP.
func selfSignedHosts(o options) []string {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		host = o.addr
	}
	var hosts []string
	switch host {
	case "", "localhost", "127.0.0.1", "::1":
	default:
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, host)
		}
	}
	if o.publicIP != "" {
		hosts = append(hosts, o.publicIP)
	}
	return hosts
}

// run serves until ctx is done. When ready is not nil it receives the
// listening address (tests use it).
func run(ctx context.Context, args []string, stdout io.Writer, ready chan<- net.Addr) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	if o.root == "" {
		if o.root, err = os.Getwd(); err != nil {
			return err
		}
	}
	if o.root, err = filepath.Abs(o.root); err != nil {
		return err
	}
	opts, err := serverOptions(o)
	if err != nil {
		return err
	}
	tlsCfg, caFile, fingerprint, err := tlsSetup(o)
	if err != nil {
		return err
	}
	if caFile != "" {
		defer removeCA(caFile)
	}
	if tlsCfg != nil {
		opts = append(opts, ftp.WithTLS(tlsCfg))
	}
	// Each session needs a descriptor, and one more per data connection.
	if _, _, err := fdlimit.Raise(); err != nil {
		slog.Warn("ftpd: could not raise the open files limit", "err", err)
	}
	srv, err := ftp.New(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	ls, err := loop.NewServer()
	if err != nil {
		return err
	}
	ln, err := ls.Listen("tcp", o.addr, srv)
	if err != nil {
		ls.Close()
		return err
	}
	stopDebug, err := debughttp.Serve(o.debugAddr, ls)
	if err != nil {
		ls.Close()
		return err
	}
	defer stopDebug()
	addr := ln.Addr().(*net.TCPAddr)
	fmt.Fprintf(stdout, "ftpd: serving %s on ftp://%s (poller %s, %d loops)\n", o.root, addr, poller.Backend, len(ls.Loops()))
	if tlsCfg != nil {
		fmt.Fprintf(stdout, "ftpd: FTPS (AUTH TLS) on; certificate SHA-256 %s\n", fingerprint)
		if caFile != "" {
			fmt.Fprintf(stdout, "ftpd: self-signed certificate for clients to trust: %s\n", caFile)
		}
	}
	fmt.Fprintf(stdout, "try:  %s\n", clientCommand(o, addr, caFile))
	if ready != nil {
		ready <- addr
	}
	<-ctx.Done()
	slog.Info("ftpd: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := ls.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// clientCommand is a command line that lists the served folder; over TLS
// when FTPS is on, trusting caFile (a self-signed certificate) if set.
func clientCommand(o options, addr *net.TCPAddr, caFile string) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "ftp://" + net.JoinHostPort(host, strconv.Itoa(addr.Port)) + "/"
	curl, lftp := "curl ", "lftp "
	if o.tlsCert != "" || o.tlsSelfSigned {
		curl += "--ssl-reqd "
		lftp += "-e 'set ftp:ssl-force true; set ftp:ssl-protect-data true"
		if caFile != "" {
			curl += "--cacert " + caFile + " "
			lftp += "; set ssl:ca-file " + caFile
		}
		lftp += "' "
	}
	if !o.anonymous && o.user != "" {
		return curl + "-u " + o.user + ":PASSWORD " + url
	}
	return curl + url + "    or    " + lftp + url
}
