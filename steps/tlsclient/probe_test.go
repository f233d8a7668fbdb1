package tlsclient

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"testing"
)

// A request dials a connection, but a pooled one frees up first and the
// request goes over that; the dialed connection finishes its handshake
// afterwards and waits in the pool for a later request. Its handshake is
// recorded on it, not on the pooled connection the request took.
func TestHandshakeIsRecordedOnTheConnectionDialed(t *testing.T) {
	sessions := &sessionCache{}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	pooled := trackConn(context.Background(), a, sessions, "", "127.0.0.1:443").(*trackedConn)
	pooled.info.handshakeDone = true // an earlier full handshake, no certificate asked
	sessions.remember("127.0.0.1", identity{})

	ctx, _ := WithProbe(context.Background())
	dialed := trackConn(ctx, b, sessions, "", "127.0.0.1:443").(*trackedConn)
	trace := httptrace.ContextClientTrace(ctx)
	trace.GotConn(httptrace.GotConnInfo{Conn: tls.Client(pooled, &tls.Config{}), Reused: true})
	trace.TLSHandshakeDone(tls.ConnectionState{Version: tls.VersionTLS13, DidResume: true}, nil)

	if !dialed.info.handshakeDone || !dialed.info.resumed || dialed.info.origin == nil {
		t.Errorf("the dialed connection's handshake was not recorded on it: %+v", dialed.info)
	}
	if pooled.info.resumed {
		t.Errorf("the dialed connection's handshake was recorded on the pooled one: %+v", pooled.info)
	}
}
