package devserver

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
)

// handedOut remembers every port this process has picked, so that servers
// started concurrently in one process (parallel tests) never get the same
// port between the moment it is picked and the moment it is bound.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a TCP port on ip that nothing listens on. The server binds
// its ports itself, so there is a window between picking and binding; see
// reservePort for how that window is kept small.
func freePort(ip string) (int, error) {
	for range 20 {
		port, err := reservePort(ip)
		if err != nil {
			return 0, err
		}
		handedOut.Lock()
		taken := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, errors.New("no free TCP port found")
}

func reservePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("picking a free port on %s: %w", ip, err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		// These hand out ephemeral ports sequentially, so the port will not
		// come back soon on its own.
		return port, nil
	}
	// Linux picks ephemeral ports at random and may hand this one to another
	// process right after we close it. A connection closed by the accepting
	// side leaves the port in TIME_WAIT, which keeps the kernel from choosing
	// it for bind(:0) for a minute while an explicit bind (SO_REUSEADDR, Go's
	// default for listeners) still succeeds.
	c, err := net.Dial("tcp", net.JoinHostPort(dialableIP(ip), strconv.Itoa(port)))
	if err != nil {
		return port, nil
	}
	defer c.Close()
	if s, err := l.Accept(); err == nil {
		s.Close()
	}
	return port, nil
}

// checkPortFree fails when something already listens on ip:port, so that Start
// reports a taken port as an error instead of the server dying on it later.
func checkPortFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// dialableIP maps a wildcard listen address to the loopback address of the
// same family, which is where a local client reaches the listener.
func dialableIP(ip string) string {
	parsed := net.ParseIP(ip)
	switch {
	case parsed == nil:
		return ip
	case parsed.Equal(net.IPv4zero):
		return "127.0.0.1"
	case parsed.Equal(net.IPv6unspecified):
		return "::1"
	}
	return ip
}
