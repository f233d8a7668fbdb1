package soap

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/outflow-dev/outflow/engine"
)

// latin1Partner is a server that answers every request with raw bytes, a
// status line in Latin-1 as some legacy servers write it: net/http's
// server cannot write such a line, so it is written on the socket.
func latin1Partner(t *testing.T, answer string) *engine.Connection {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.Copy(io.Discard, req.Body)
					_, _ = io.WriteString(c, answer)
				}
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	return &engine.Connection{Name: "partner-soap", Scheme: "http", Host: "127.0.0.1", Port: port}
}

// TestLatin1StatusFailureReachesTemporal: a partner whose status line is
// Latin-1 ("200 Gel\xe4ufig") and whose body is no envelope failed the
// step with a message that is not UTF-8, which the worker cannot send to
// Temporal (a Failure's message is a protobuf string): the step's failure
// was lost and the activity timed out instead.
func TestLatin1StatusFailureReachesTemporal(t *testing.T) {
	conn := latin1Partner(t, "HTTP/1.1 200 Gel\xe4ufig\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html>x</html")
	_, err := execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: conn}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}})
	appErr, _ := appError(t, err)
	if !strings.Contains(appErr.Error(), "not with a SOAP envelope") {
		t.Fatalf("err = %v", err)
	}
	if _, merr := proto.Marshal(temporal.GetDefaultFailureConverter().ErrorToFailure(err)); merr != nil {
		t.Fatalf("the failure cannot be sent to Temporal (%v): %q", merr, err.Error())
	}
}
