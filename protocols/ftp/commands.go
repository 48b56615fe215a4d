package ftp

import (
	"sort"
	"strconv"
	"strings"
)

// cmdArg says whether a command takes an argument.
type cmdArg uint8

const (
	argNone     cmdArg = iota // 501 if one is given
	argOptional               // either way
	argRequired               // 501 if none is given
)

// cmdFlags are properties of a command.
type cmdFlags uint8

const (
	// preLogin commands are served before login; every other one gets 530.
	preLogin cmdFlags = 1 << iota
	// usesData commands set up or use the data connection; one that
	// arrives during a transfer waits for it to end.
	usesData
	// afterTransfer commands also wait for a running transfer to end
	// (AUTH: the control connection changes under it).
	afterTransfer
)

// command is one entry of the command table.
type command struct {
	name  string
	arg   cmdArg
	flags cmdFlags
	run   func(s *session, arg string)
	help  string // "Syntax: …", for HELP
}

// cmdTable maps a command name to its entry. Immutable once built.
type cmdTable map[string]*command

func (t cmdTable) find(name string) *command { return t[name] }

// newCmdTable builds the command table, in the order of the RFCs that
// define the commands.
func newCmdTable() cmdTable {
	cmds := []*command{
		// RFC 959 §4.1.1, access control.
		{"USER", argRequired, preLogin, (*session).cmdUSER, "USER <sp> username"},
		{"PASS", argOptional, preLogin, (*session).cmdPASS, "PASS <sp> password"},
		{"ACCT", argRequired, preLogin, (*session).cmdNotImplemented, "ACCT <sp> account-information (not implemented)"},
		{"CWD", argOptional, 0, (*session).cmdCWD, "CWD [<sp> pathname]"},
		{"CDUP", argNone, 0, (*session).cmdCDUP, "CDUP (change to parent folder)"},
		{"SMNT", argRequired, 0, (*session).cmdNotImplemented, "SMNT <sp> pathname (not implemented)"},
		{"REIN", argNone, preLogin, (*session).cmdREIN, "REIN (flush the account)"},
		{"QUIT", argNone, preLogin, (*session).cmdQUIT, "QUIT (end the session)"},
		// §4.1.2, transfer parameters; RFC 2428, extended addresses.
		{"PORT", argRequired, usesData, (*session).cmdPORT, "PORT <sp> h1,h2,h3,h4,p1,p2"},
		{"PASV", argNone, usesData, (*session).cmdPASV, "PASV (open a passive data port)"},
		{"EPRT", argRequired, usesData, (*session).cmdEPRT, "EPRT <sp> |proto|address|port|"},
		{"EPSV", argOptional, usesData, (*session).cmdEPSV, "EPSV [<sp> proto | ALL]"},
		{"TYPE", argRequired, 0, (*session).cmdTYPE, "TYPE <sp> A | I | L 8"},
		{"STRU", argRequired, 0, (*session).cmdSTRU, "STRU <sp> F"},
		{"MODE", argRequired, 0, (*session).cmdMODE, "MODE <sp> S"},
		// §4.1.3, service commands.
		{"RETR", argRequired, usesData, (*session).cmdRETR, "RETR <sp> pathname"},
		{"STOR", argRequired, usesData, (*session).cmdSTOR, "STOR <sp> pathname"},
		{"STOU", argOptional, usesData, (*session).cmdSTOU, "STOU [<sp> name-prefix]"},
		{"APPE", argRequired, usesData, (*session).cmdAPPE, "APPE <sp> pathname"},
		{"ALLO", argRequired, 0, (*session).cmdALLO, "ALLO <sp> bytes"},
		{"REST", argRequired, 0, (*session).cmdREST, "REST <sp> offset"},
		{"RNFR", argRequired, 0, (*session).cmdRNFR, "RNFR <sp> pathname"},
		{"RNTO", argRequired, 0, (*session).cmdRNTO, "RNTO <sp> pathname"},
		{"ABOR", argNone, 0, (*session).cmdABOR, "ABOR (abort the transfer)"},
		{"DELE", argRequired, 0, (*session).cmdDELE, "DELE <sp> pathname"},
		{"RMD", argRequired, 0, (*session).cmdRMD, "RMD <sp> pathname"},
		{"MKD", argRequired, 0, (*session).cmdMKD, "MKD <sp> pathname"},
		{"PWD", argNone, 0, (*session).cmdPWD, "PWD (print the current folder)"},
		{"LIST", argOptional, usesData, (*session).cmdLIST, "LIST [<sp> pathname]"},
		{"NLST", argOptional, usesData, (*session).cmdNLST, "NLST [<sp> pathname]"},
		{"SITE", argRequired, 0, (*session).cmdSITE, "SITE <sp> CHMOD | HELP"},
		{"SYST", argNone, preLogin, (*session).cmdSYST, "SYST (system type)"},
		{"STAT", argOptional, 0, (*session).cmdSTAT, "STAT [<sp> pathname]"},
		{"HELP", argOptional, preLogin, (*session).cmdHELP, "HELP [<sp> command]"},
		{"NOOP", argNone, preLogin, (*session).cmdNOOP, "NOOP"},
		// RFC 775's X-forms, which RFC 1123 §4.1.3.1 asks servers to accept.
		{"XCWD", argOptional, 0, (*session).cmdCWD, "XCWD [<sp> pathname]"},
		{"XCUP", argNone, 0, (*session).cmdCDUP, "XCUP (change to parent folder)"},
		{"XMKD", argRequired, 0, (*session).cmdMKD, "XMKD <sp> pathname"},
		{"XRMD", argRequired, 0, (*session).cmdRMD, "XRMD <sp> pathname"},
		{"XPWD", argNone, 0, (*session).cmdPWD, "XPWD (print the current folder)"},
		// RFC 2389, feature negotiation.
		{"FEAT", argNone, preLogin, (*session).cmdFEAT, "FEAT (list features)"},
		{"OPTS", argRequired, preLogin, (*session).cmdOPTS, "OPTS <sp> UTF8 ON | MLST facts"},
		// RFC 2228, security extensions, as RFC 4217 uses them for TLS.
		{"AUTH", argRequired, preLogin | afterTransfer, (*session).cmdAUTH, "AUTH <sp> TLS | SSL"},
		{"PBSZ", argRequired, preLogin, (*session).cmdPBSZ, "PBSZ <sp> 0"},
		{"PROT", argRequired, preLogin, (*session).cmdPROT, "PROT <sp> C | P"},
		{"CCC", argNone, preLogin, (*session).cmdCCC, "CCC (refused: the control connection stays encrypted)"},
		// RFC 3659, extensions.
		{"SIZE", argRequired, 0, (*session).cmdSIZE, "SIZE <sp> pathname"},
		{"MDTM", argRequired, 0, (*session).cmdMDTM, "MDTM <sp> pathname"},
		{"MLST", argOptional, 0, (*session).cmdMLST, "MLST [<sp> pathname]"},
		{"MLSD", argOptional, usesData, (*session).cmdMLSD, "MLSD [<sp> pathname]"},
		// draft-somers-ftp-mfxx, set modification time.
		{"MFMT", argRequired, 0, (*session).cmdMFMT, "MFMT <sp> YYYYMMDDHHMMSS <sp> pathname"},
	}
	t := make(cmdTable, len(cmds))
	for _, c := range cmds {
		t[c.name] = c
	}
	return t
}

// siteCommands are the SITE subcommands, for SITE HELP.
var siteCommands = [...]string{"CHMOD <sp> mode <sp> pathname", "HELP [<sp> subcommand]"}

// cmdNotImplemented answers commands that are recognized but not served.
func (s *session) cmdNotImplemented(string) {
	s.reply(502, "Command not implemented.")
}

func (s *session) cmdUSER(arg string) {
	if s.state == loggedIn {
		s.resetAccount()
	}
	if s.loginNeedsTLS(arg) {
		return
	}
	// RFC 2577 §5: the same reply whether or not the user exists.
	s.user, s.state = arg, needPass
	s.reply(331, "Please specify the password.")
}

func (s *session) cmdPASS(arg string) {
	switch s.state {
	case loggedIn:
		s.reply(503, "Already logged in.")
		return
	case needUser:
		s.reply(503, "Login with USER first.")
		return
	}
	name := s.user
	acct, slow := s.srv.accts.quick(name, arg)
	if acct != nil || !slow {
		s.loginResult(acct)
		return
	}
	s.await(s.srv.auth, func() (func(), func()) {
		acct := s.srv.accts.slowCheck(name, arg)
		return func() { s.loginResult(acct) }, nil
	})
}

// loginResult finishes PASS: 230, or 530 after the failure delay (a loop
// timer, during which the session reads no command), closing the session
// at the last allowed failure.
func (s *session) loginResult(acct *account) {
	if acct != nil {
		s.state, s.acct, s.failures = loggedIn, acct, 0
		s.cwd, s.restart = "/", 0
		s.srv.cfg.logger.Info("ftp: login", "user", acct.name, "remote", s.peer)
		s.reply(230, "Login successful.")
		return
	}
	s.failures++
	s.srv.cfg.logger.Warn("ftp: failed login", "user", s.user, "remote", s.peer, "failures", s.failures)
	s.state, s.user = needUser, ""
	last := s.srv.cfg.maxFailures > 0 && s.failures >= s.srv.cfg.maxFailures
	respond := func() {
		if last {
			s.reply(530, "Login incorrect; too many failures, closing control connection.")
			s.closeAfterReply()
			return
		}
		s.reply(530, "Login incorrect.")
	}
	if s.srv.cfg.failDelay <= 0 {
		respond()
		return
	}
	s.busy = true
	s.c.AfterFunc(s.srv.cfg.failDelay, func() {
		s.busy = false
		respond()
		s.resume()
	})
}

func (s *session) cmdREIN(string) {
	s.resetAccount()
	s.reply(220, "Service ready for new user.")
}

func (s *session) cmdQUIT(string) {
	s.reply(221, "Goodbye.")
	if s.xfer != nil {
		// RFC 959 §4.1.1: a transfer in progress finishes, its reply is
		// sent, then the server closes.
		s.quitting = true
		return
	}
	s.closeAfterReply()
}

func (s *session) cmdSYST(string) { s.reply(215, "UNIX Type: L8") }

func (s *session) cmdNOOP(string) { s.reply(200, "NOOP ok.") }

func (s *session) cmdALLO(string) { s.reply(202, "No storage allocation necessary.") }

func (s *session) cmdFEAT(string) {
	feats := []string{
		"EPRT",
		"EPSV",
		"MDTM",
		"MFMT",
		"MLST " + s.facts.feat(),
		"REST STREAM",
		"SIZE",
		"TVFS",
		"UTF8",
	}
	if s.srv.cfg.tls != nil {
		// RFC 4217 §6.
		feats = append([]string{"AUTH TLS"}, feats...)
		feats = append(feats, "PBSZ", "PROT")
		sort.Strings(feats)
	}
	s.replyLines(211, "Features:", feats, "End")
}

func (s *session) cmdOPTS(arg string) {
	name, rest, _ := strings.Cut(arg, " ")
	switch strings.ToUpper(name) {
	case "UTF8":
		if strings.EqualFold(rest, "ON") {
			s.reply(200, "Always in UTF8 mode.")
			return
		}
		s.reply(501, "Option not understood.")
	case "MLST":
		// RFC 3659 §7.9: unknown facts are ignored; a fact list must end
		// in ';' (pyftpdlib refuses "OPTS MLST type" and "type ;").
		if rest != "" && (!strings.HasSuffix(rest, ";") || strings.Contains(rest, " ")) {
			s.reply(501, "Invalid MLST facts.")
			return
		}
		s.facts = parseFacts(rest)
		s.reply(200, "MLST OPTS "+s.facts.String())
	default:
		s.reply(501, "Option not understood.")
	}
}

func (s *session) cmdHELP(arg string) {
	if arg != "" {
		if c := s.srv.cmds.find(strings.ToUpper(arg)); c != nil {
			s.reply(214, "Syntax: "+c.help)
			return
		}
		s.reply(501, "Unknown command.")
		return
	}
	names := make([]string, 0, len(s.srv.cmds))
	for n := range s.srv.cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	for len(names) > 0 {
		k := min(8, len(names))
		lines = append(lines, strings.Join(names[:k], " "))
		names = names[k:]
	}
	s.replyLines(214, "The following commands are recognized.", lines, "Help OK.")
}

func (s *session) cmdSITE(arg string) {
	sub, rest, _ := strings.Cut(arg, " ")
	switch strings.ToUpper(sub) {
	case "HELP":
		if rest != "" {
			for _, c := range siteCommands {
				if strings.EqualFold(strings.Fields(c)[0], rest) {
					s.reply(214, "Syntax: SITE "+c)
					return
				}
			}
			s.reply(501, "Unknown SITE command.")
			return
		}
		s.replyLines(214, "The following SITE commands are recognized.", siteCommands[:], "Help OK.")
	case "CHMOD":
		s.siteCHMOD(rest)
	default:
		s.reply(500, "Unknown SITE command.")
	}
}

func (s *session) cmdTYPE(arg string) {
	switch strings.ToUpper(strings.ReplaceAll(arg, " ", "")) {
	case "A", "AN", "L7":
		s.binary = false
		s.reply(200, "Switching to ASCII mode.")
	case "I", "L8":
		s.binary = true
		s.reply(200, "Switching to Binary mode.")
	default:
		s.reply(504, "Unsupported type.")
	}
}

func (s *session) cmdSTRU(arg string) {
	switch strings.ToUpper(arg) {
	case "F":
		s.reply(200, "Structure set to F.")
	case "P", "R":
		s.reply(504, "Unimplemented STRU type.")
	default:
		s.reply(501, "Unrecognized STRU type.")
	}
}

func (s *session) cmdMODE(arg string) {
	switch strings.ToUpper(arg) {
	case "S":
		s.reply(200, "Mode set to S.")
	case "B", "C":
		s.reply(504, "Unimplemented MODE type.")
	default:
		s.reply(501, "Unrecognized MODE type.")
	}
}

func (s *session) cmdREST(arg string) {
	n, err := strconv.ParseInt(arg, 10, 64)
	switch {
	case err != nil || n < 0:
		s.reply(501, "Invalid REST parameter.")
	default:
		// In ASCII mode too, as vsftpd: the offset counts bytes of the
		// file, not of the converted stream (what SIZE answers, which is
		// what clients resuming a transfer take it from).
		s.restart = n
		s.reply(350, "Restart position accepted ("+arg+").")
	}
}

func (s *session) cmdPWD(string) {
	s.reply(257, `"`+quote(s.cwd)+`" is the current directory.`)
}

func (s *session) cmdSTAT(arg string) {
	if arg != "" {
		s.statPath(arg)
		return
	}
	lines := []string{
		"Connected to " + s.c.LocalAddr().String() + " from " + s.c.RemoteAddr().String(),
	}
	switch s.state {
	case loggedIn:
		lines = append(lines, "Logged in as "+safe(s.acct.name))
	case needPass:
		lines = append(lines, "Waiting for password")
	default:
		lines = append(lines, "Waiting for username")
	}
	typ := "ASCII"
	if s.binary {
		typ = "BINARY"
	}
	lines = append(lines, "TYPE: "+typ+"; STRUcture: File; MODE: Stream")
	switch {
	case s.xfer != nil:
		lines = append(lines, s.xfer.status())
	case s.data != nil && s.data.c != nil:
		lines = append(lines, "Data connection open")
	case s.data != nil && s.data.ln != nil:
		lines = append(lines, "Passive data port waiting for connection")
	default:
		lines = append(lines, "No data connection")
	}
	if s.srv.cfg.tls != nil {
		lines = append(lines, s.tlsStatus())
	}
	s.replyLines(211, "FTP server status:", lines, "End of status")
}
