package loop_test

import "github.com/reactorkit/reactor/conn"

type connT = conn.Conn
