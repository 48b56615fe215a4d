package ftp_test

import (
	"fmt"
	"testing"
)

// TestRestInASCIIMode: REST is accepted in TYPE A, as vsftpd accepts it,
// and its offset counts bytes of the file: a download goes on from there,
// converted to CR LF; an upload overwrites the file from there.
func TestRestInASCIIMode(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverConfig{})
	for i, tc := range []struct {
		name string
		file string // on the server before
		rest int
		cmd  string
		send string // the upload's bytes
		code int    // the final reply
		want string // the download's bytes, or the file after the upload
	}{
		{name: "RETR from a line's start", file: "one\ntwo\nthree\n", rest: 4, cmd: "RETR", code: 226, want: "two\r\nthree\r\n"},
		{name: "RETR from an LF", file: "one\ntwo\n", rest: 3, cmd: "RETR", code: 226, want: "\r\ntwo\r\n"},
		{name: "RETR from the LF of a CR LF", file: "a\r\nb\r\n", rest: 2, cmd: "RETR", code: 226, want: "\nb\r\n"},
		{name: "RETR from 0", file: "one\ntwo\n", rest: 0, cmd: "RETR", code: 226, want: "one\r\ntwo\r\n"},
		{name: "RETR from the end", file: "one\n", rest: 4, cmd: "RETR", code: 226, want: ""},
		{name: "RETR past the end", file: "one\n", rest: 5, cmd: "RETR", code: 554},
		{name: "STOR from a line's start", file: "one\nXXXXXXXX\n", rest: 4, cmd: "STOR", send: "two\r\nthree\r\n", code: 226, want: "one\ntwo\nthree\n"},
		{name: "STOR past the end", file: "one\n", rest: 5, cmd: "STOR", send: "x", code: 554, want: "one\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprint("f", i)
			ts.write(t, name, []byte(tc.file))
			c := userClient(t, ts)
			c.steps(step{"TYPE A", 200, "ASCII"}, step{fmt.Sprint("REST ", tc.rest), 350, "Restart position accepted"})
			if tc.cmd == "RETR" {
				got, code := c.retrieve("RETR " + name)
				if code != tc.code || string(got) != tc.want {
					t.Fatalf("RETR: %d %q, want %d %q", code, got, tc.code, tc.want)
				}
				return
			}
			if code := c.store("STOR "+name, []byte(tc.send)); code != tc.code {
				t.Fatalf("STOR: %d, want %d", code, tc.code)
			}
			if got := string(ts.read(t, name)); got != tc.want {
				t.Fatalf("after STOR: %q, want %q", got, tc.want)
			}
		})
	}
}
