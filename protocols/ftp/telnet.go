package ftp

// Telnet bytes that can appear on an FTP control connection (RFC 854). A
// client that aborts a transfer sends IAC IP, then IAC DM as TCP urgent
// data (RFC 959 §4.1.3); with SO_OOBINLINE set they arrive in the normal
// stream, before the ABOR line, and are stripped here.
const (
	telnetIAC  = 255 // interpret as command
	telnetDONT = 254
	telnetDO   = 253
	telnetWONT = 252
	telnetWILL = 251
	telnetSB   = 250 // subnegotiation begins
	telnetSE   = 240 // subnegotiation ends
)

// stripTelnet appends line to dst without its Telnet command sequences:
// IAC IAC becomes one 255 byte, an option negotiation (IAC WILL/WONT/DO/DONT
// option) and a subnegotiation (IAC SB … IAC SE) are dropped, and so is any
// other two-byte IAC command (IP, DM, AYT, …). A lone IAC at the end is
// dropped too.
func stripTelnet(dst, line []byte) []byte {
	for i := 0; i < len(line); i++ {
		b := line[i]
		if b != telnetIAC {
			dst = append(dst, b)
			continue
		}
		if i+1 >= len(line) {
			break
		}
		switch op := line[i+1]; {
		case op == telnetIAC:
			dst = append(dst, telnetIAC)
			i++
		case op >= telnetWILL && op <= telnetDONT:
			i += 2 // the option byte
		case op == telnetSB:
			i += 2
			for i+1 < len(line) && !(line[i] == telnetIAC && line[i+1] == telnetSE) {
				i++
			}
			i++ // at SE, or past the end
		default:
			i++
		}
	}
	return dst
}
