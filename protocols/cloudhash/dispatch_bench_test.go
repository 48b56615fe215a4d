package cloudhash

import (
	"fmt"
	"testing"
)

// BenchmarkDispatch measures one command's decode, dispatch, store work
// and reply, without the socket: the CPU CloudHash adds per request on top
// of the system calls.
func BenchmarkDispatch(b *testing.B) {
	cfg := newConfig(nil)
	st := NewStore(0, 0)
	p := newRESP(st, &cfg, newPersister(st, "", cfg.logger))
	val := make([]byte, 64)
	for i := range 100000 {
		st.Set(fmt.Appendf(nil, "key:%012d", i), val, 0, false, SetAlways, nowMillis())
	}
	for _, tc := range []struct{ name, req string }{
		{"GET", "*2\r\n$3\r\nGET\r\n$16\r\nkey:000000012345\r\n"},
		{"SET", "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$64\r\n" + string(val) + "\r\n"},
		{"INCR", "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"},
		{"MSET", "*5\r\n$4\r\nMSET\r\n$16\r\nkey:000000000001\r\n$3\r\nabc\r\n$16\r\nkey:000000000002\r\n$3\r\ndef\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sc := p.getScratch()
			s := &respSession{authed: true}
			in := []byte(tc.req)
			b.ReportAllocs()
			for b.Loop() {
				x := &sc.x
				x.p, x.s, x.now, x.act, x.out = p, s, nowMillis(), actContinue, x.out[:0]
				if _, err := p.codec.DecodeRequest(in, &sc.req); err != nil {
					b.Fatal(err)
				}
				p.dispatch(x, sc)
			}
		})
	}
}
