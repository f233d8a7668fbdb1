// Package devserver runs a complete Temporal server (frontend, history,
// matching and worker services) inside the current process: with its state
// in SQLite and, optionally, the Temporal Web UI (Start), or on PostgreSQL,
// configured by the environment variables of Temporal's server image
// (StartFromEnv).
//
// Start is what `outflow run`, `outflow test` and `outflow dev` use when no
// Temporal address is given, and what integration tests start;
// StartFromEnv is `outflow server`. It links the whole server, so only
// commands and integration tests should import it.
package devserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
)

// Options configure a server. The zero value is a usable ephemeral server on
// 127.0.0.1 with a free port, namespace "default" and no UI.
type Options struct {
	// DBPath is the SQLite file that keeps the server's state across
	// restarts; it and its parent directory are created when missing. Empty
	// means ephemeral: state lives in a temporary file removed by Stop.
	// Start refuses an existing file that is empty or fails SQLite's quick
	// integrity check, saying what to do. Stop checkpoints the file's
	// write-ahead log, so that after Stop the file alone holds the state.
	DBPath string
	// IP is the address the frontend (and the UI) listen on; default
	// 127.0.0.1. The other services always listen on 127.0.0.1.
	IP string
	// Port is the frontend gRPC port; 0 picks a free one.
	Port int
	// UIPort is the Temporal Web UI port: 0 means no UI, -1 picks a free port.
	UIPort int
	// Namespace is created when missing; default "default".
	Namespace string
	// SearchAttributes are custom search attributes the namespace must have.
	// Missing ones are added to an existing namespace; one that exists with
	// another type makes Start fail.
	SearchAttributes map[string]enumspb.IndexedValueType
	// LogLevel of the server's own logs: debug, info, warn (default), error
	// or off.
	LogLevel string
	// Logger receives the server's logs; default: text on stderr.
	Logger *slog.Logger
	// TLS, when set, serves the frontend gRPC port over TLS.
	TLS *TLSOptions
	// UICodecEndpoint, when set, is the payload codec endpoint the Web UI
	// calls to show encrypted payloads (outflow dev --payload-key).
	UICodecEndpoint string
	// DynamicConfig overrides or adds server dynamic config values, keyed
	// like "history.cacheMaxSize". Integers must be of type int.
	DynamicConfig map[string]any
}

// TLSOptions secure the frontend gRPC port. Files are PEM. The server reads
// them once, at Start.
type TLSOptions struct {
	// CertFile and KeyFile are the server certificate (with its
	// intermediates) and private key.
	CertFile string
	KeyFile  string
	// ClientCAFile holds the CA certificates that client certificates must
	// chain to.
	ClientCAFile string
	// RequireClientCert makes the frontend refuse clients without a
	// certificate signed by a CA in ClientCAFile (mutual TLS).
	RequireClientCert bool
}

// Server is a running embedded Temporal server.
type Server struct {
	opts         Options
	frontendAddr string
	// internalAddr is a plaintext frontend on loopback that the server's own
	// components and the UI use; equal to frontendAddr when TLS is off.
	internalAddr string
	uiAddr       string
	ports        servicePorts

	temporal temporal.Server
	logLevel *slog.LevelVar
	conn     *grpc.ClientConn

	ui     *uiserver.Server
	uiDone chan error

	unlockDB func()
	tempDir  string
	// createdDB is set when Start created the database file: a failed
	// Start removes it again while it is empty, so that the next Start
	// does not take it for a truncated state file.
	createdDB bool

	stopOnce sync.Once
	stopErr  error
}

// FrontendAddress is the host:port clients dial: the frontend's IP, or the
// loopback address when it listens on a wildcard address.
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIAddress is the Web UI's base URL (http://host:port), or "" when the UI
// is off.
func (s *Server) UIAddress() string {
	if s.uiAddr == "" {
		return ""
	}
	return "http://" + s.uiAddr
}

// Namespace is the namespace the server was started with.
func (s *Server) Namespace() string { return s.opts.Namespace }

// DBPath is the SQLite file holding the server's state (a temporary file for
// an ephemeral server).
func (s *Server) DBPath() string { return s.opts.DBPath }

// Start starts a server and returns once its frontend serves the namespace
// and, if enabled, the UI accepts connections. It fails, rather than waits,
// when a port is taken or the database cannot be used. When ctx ends first,
// Start stops what it started and returns ctx's error.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts}
	if err := s.prepare(); err != nil {
		s.removeCreatedDB()
		s.cleanup()
		return nil, fmt.Errorf("devserver: %w", err)
	}
	if err := s.start(ctx); err != nil {
		s.removeCreatedDB()
		s.Stop()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("devserver: %w", err)
	}
	return s, nil
}

// prepare validates options and claims resources (ports, database); it
// starts nothing.
func (s *Server) prepare() error {
	o := &s.opts
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if net.ParseIP(o.IP) == nil {
		return fmt.Errorf("IP %q is not an IP address", o.IP)
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("port %d out of range", o.Port)
	}
	if o.UIPort < -1 || o.UIPort > 65535 {
		return fmt.Errorf("UI port %d out of range", o.UIPort)
	}
	level, err := parseLogLevel(o.LogLevel)
	if err != nil {
		return err
	}
	s.logLevel = new(slog.LevelVar)
	s.logLevel.Set(level)
	if o.Logger == nil {
		o.Logger = defaultSlogger()
	}
	if o.TLS != nil {
		if err := checkTLS(o.TLS); err != nil {
			return err
		}
	}
	if err := s.prepareDB(); err != nil {
		return err
	}
	return s.preparePorts()
}

// checkTLS loads the TLS files up front: the server would otherwise only
// discover a bad file on the first handshake, or die on it.
func checkTLS(t *TLSOptions) error {
	if t.CertFile == "" || t.KeyFile == "" {
		return errors.New("TLS needs CertFile and KeyFile")
	}
	if t.RequireClientCert && t.ClientCAFile == "" {
		return errors.New("TLS RequireClientCert needs ClientCAFile to verify client certificates against")
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		return fmt.Errorf("TLS server certificate: %w", err)
	}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return fmt.Errorf("TLS client CA: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("TLS client CA: no PEM certificate in %s", t.ClientCAFile)
		}
	}
	return nil
}

func (s *Server) prepareDB() error {
	o := &s.opts
	if o.DBPath == "" {
		dir, err := os.MkdirTemp("", "outflow-devserver-")
		if err != nil {
			return fmt.Errorf("creating temporary database directory: %w", err)
		}
		s.tempDir = dir
		o.DBPath = filepath.Join(dir, "temporal.db")
	} else {
		abs, err := filepath.Abs(o.DBPath)
		if err != nil {
			return fmt.Errorf("database path: %w", err)
		}
		o.DBPath = abs
		if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
			return fmt.Errorf("database directory: %w", err)
		}
	}
	unlock, err := lockDB(o.DBPath)
	if err != nil {
		return err
	}
	s.unlockDB = unlock
	if s.tempDir == "" {
		missing, err := checkDBFile(o.DBPath)
		if err != nil {
			return err
		}
		s.createdDB = missing
	}
	// SQLite reports an unwritable file only at the first write, deep inside
	// the server; opening it here gives the user the path and the reason.
	f, err := os.OpenFile(o.DBPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("database %s is not writable: %w", o.DBPath, err)
	}
	f.Close()
	return nil
}

func (s *Server) preparePorts() error {
	o := &s.opts
	if o.Port != 0 {
		if err := checkPortFree(o.IP, o.Port); err != nil {
			return fmt.Errorf("frontend port %d: %w", o.Port, err)
		}
	} else {
		p, err := freePort(o.IP)
		if err != nil {
			return err
		}
		o.Port = p
	}
	s.frontendAddr = net.JoinHostPort(dialableIP(o.IP), strconv.Itoa(o.Port))
	httpPort, err := freePort(o.IP)
	if err != nil {
		return err
	}
	s.ports.frontendHTTP = httpPort
	// Static membership wires the services to each other by these ports, so
	// no gossip (membership) ports are needed or bound.
	internal := []*int{&s.ports.history, &s.ports.matching, &s.ports.worker}
	if o.TLS != nil {
		internal = append(internal, &s.ports.internalFrontend, &s.ports.internalFrontendHTTP)
	}
	for _, p := range internal {
		port, err := freePort(loopback)
		if err != nil {
			return err
		}
		*p = port
	}
	s.internalAddr = s.frontendAddr
	if o.TLS != nil {
		s.internalAddr = net.JoinHostPort(loopback, strconv.Itoa(s.ports.internalFrontend))
	}
	switch {
	case o.UIPort > 0:
		if err := checkPortFree(o.IP, o.UIPort); err != nil {
			return fmt.Errorf("UI port %d: %w", o.UIPort, err)
		}
	case o.UIPort == -1:
		p, err := freePort(o.IP)
		if err != nil {
			return err
		}
		o.UIPort = p
	}
	if o.UIPort > 0 {
		s.uiAddr = net.JoinHostPort(dialableIP(o.IP), strconv.Itoa(o.UIPort))
	}
	return nil
}

// removeCreatedDB removes the database file Start created, if it is still
// empty: Start failed before the schema was written.
func (s *Server) removeCreatedDB() {
	if !s.createdDB {
		return
	}
	if info, err := os.Stat(s.opts.DBPath); err == nil && info.Size() == 0 && walSize(s.opts.DBPath) == 0 {
		_ = os.Remove(s.opts.DBPath)
	}
}

func (s *Server) cleanup() {
	if s.unlockDB != nil {
		s.unlockDB()
		s.unlockDB = nil
	}
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
		s.tempDir = ""
	}
}

// Stop stops the UI and the server, releases the database and, for an
// ephemeral server, deletes its state. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		// Shutting down, the server logs errors and warnings about every
		// poll, task and connection it abandons. They are expected and only
		// alarm users; whoever asked for info or debug logs still gets them.
		if s.logLevel != nil && s.logLevel.Level() >= slog.LevelWarn {
			s.logLevel.Set(levelOff)
		}
		var errs []error
		if s.ui != nil {
			s.ui.Stop()
			select {
			case <-s.uiDone:
			case <-time.After(5 * time.Second):
				errs = append(errs, errors.New("UI server did not stop"))
			}
		}
		if s.conn != nil {
			_ = s.conn.Close()
		}
		if s.temporal != nil {
			if err := recoverFatal(s.temporal.Stop); err != nil {
				errs = append(errs, fmt.Errorf("stopping server: %w", err))
			} else if s.tempDir == "" {
				// A graceful stop leaves the whole state in the database
				// file, which can then be copied or moved on its own.
				if err := checkpointWAL(s.opts.DBPath); err != nil {
					s.opts.Logger.Warn("the state file keeps part of its state in its write-ahead log", "error", err)
					errs = append(errs, err)
				}
			}
		}
		s.cleanup()
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
