package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/metrics"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql" // registers postgres12 and postgres12_pgx
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/rpc/encryption"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

// EnvOptions configure a server that takes its configuration from the
// environment, like Temporal's server image.
type EnvOptions struct {
	// Namespace is created when missing, with SearchAttributes; default
	// "default".
	Namespace        string
	SearchAttributes map[string]enumspb.IndexedValueType
	// SetupSchema creates the databases when missing and brings their
	// schema to this server's version before starting (PostgreSQL only).
	// Without it the schema must have been set up, for example with
	// Temporal's SQL tool.
	SetupSchema bool
	// LogLevel of the server's own logs: debug, info, warn (default), error
	// or off.
	LogLevel string
	// Logger receives the server's logs; default: text on stderr.
	Logger *slog.Logger
	// ExitOnFatal ends the process when a service of the server fails
	// fatally after Start (a port it cannot bind, a database it cannot
	// write), as Temporal's own server does. Without it such a failure
	// panics on the service's goroutine, which also ends the process.
	ExitOnFatal bool
}

// EnvServer is a Temporal server configured the way Temporal's official
// server image (temporalio/server) configures itself: from the environment
// variables its built-in config template reads — DB, POSTGRES_SEEDS,
// DB_PORT, POSTGRES_USER, POSTGRES_PWD, DBNAME, VISIBILITY_DBNAME,
// BIND_ON_IP, FRONTEND_GRPC_PORT, TEMPORAL_TLS_FRONTEND_CERT,
// TEMPORAL_TLS_REQUIRE_CLIENT_AUTH and the rest. The same variables give the
// same server inside and outside a container.
type EnvServer struct {
	conf         *config.Config
	temporal     temporal.Server
	frontendAddr string
	namespace    string
	logLevel     *slog.LevelVar

	stopOnce sync.Once
	stopErr  error
}

// NamespaceRetention is how long a namespace created by StartFromEnv keeps
// closed executions (their records and histories).
const NamespaceRetention = 7 * 24 * time.Hour

// postgresPlugins are the SQL plugins EnvServer can set up a schema for.
var postgresPlugins = map[string]bool{"postgres12": true, "postgres12_pgx": true}

// StartFromEnv reads the configuration from the environment, sets up the
// schema when asked to, creates the namespace when missing, starts every
// service (frontend, history, matching, worker) in this process, and
// returns once the frontend serves the namespace.
func StartFromEnv(ctx context.Context, o EnvOptions) (*EnvServer, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	level, err := parseLogLevel(o.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if o.Logger == nil {
		o.Logger = defaultSlogger()
	}
	if os.Getenv("DB") == "" {
		// Temporal's template would default to Cassandra.
		return nil, errors.New("server: DB is not set: set DB=postgres12 (and POSTGRES_SEEDS, POSTGRES_USER, POSTGRES_PWD) as for Temporal's server image, or give --db postgres://USER@HOST:PORT/DATABASE")
	}
	// Loading announces itself on the standard logger; the command says
	// what matters once the server is up.
	stdlogOut := stdlog.Writer()
	stdlog.SetOutput(io.Discard)
	conf, err := config.Load(config.WithEmbedded())
	stdlog.SetOutput(stdlogOut)
	if err != nil {
		return nil, fmt.Errorf("server: reading the configuration from the environment: %w", err)
	}
	s := &EnvServer{conf: conf, namespace: o.Namespace, logLevel: new(slog.LevelVar)}
	s.logLevel.Set(level)
	store, err := s.defaultStore()
	if err != nil {
		return nil, err
	}
	if err := checkEnvTLS(&conf.Global.TLS); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if o.SetupSchema {
		if err := s.setupSchema(); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(conf.ClusterMetadata.CurrentClusterName, o.Namespace, false, o.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("server: namespace %q: %w", o.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(NamespaceRetention)
	// Despite its package, CreateNamespaces writes through the generic SQL
	// persistence layer: it works on any SQL store, and leaves an existing
	// namespace alone.
	if err := sqliteschema.CreateNamespaces(store, ns); err != nil {
		return nil, fmt.Errorf("server: creating namespace %q in %s: %w", o.Namespace, describeSQL(store), err)
	}

	front := conf.Services[string(primitives.FrontendService)].RPC
	s.frontendAddr = net.JoinHostPort(dialableIP(front.BindOnIP), strconv.Itoa(front.GRPCPort))
	logger := &serverLogger{log: o.Logger, level: s.logLevel}
	if o.ExitOnFatal {
		logger.exit = os.Exit
	}
	if err := recoverFatal(func() (err error) {
		s.temporal, err = temporal.NewServer(
			temporal.WithConfig(conf),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithLogger(logger),
		)
		return err
	}); err != nil {
		return nil, fmt.Errorf("server: creating server: %w", err)
	}
	started := make(chan error, 1)
	go func() { started <- recoverFatal(s.temporal.Start) }()
	select {
	case err := <-started:
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("server: starting: %w", err)
		}
	case <-ctx.Done():
		<-started
		s.Stop()
		return nil, ctx.Err()
	}
	if err := s.waitForFrontend(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("server: %w", err)
	}
	return s, nil
}

func (s *EnvServer) defaultStore() (*config.SQL, error) {
	p := s.conf.Persistence
	ds, ok := p.DataStores[p.DefaultStore]
	if !ok || ds.SQL == nil {
		return nil, errors.New("server: the persistence store is not SQL: set DB=postgres12 (and POSTGRES_SEEDS, POSTGRES_USER, POSTGRES_PWD) as for Temporal's server image")
	}
	if !postgresPlugins[ds.SQL.PluginName] {
		return nil, fmt.Errorf("server: DB=%s: outflow server runs on PostgreSQL; set DB=postgres12 or postgres12_pgx", ds.SQL.PluginName)
	}
	if host, _, _ := net.SplitHostPort(ds.SQL.ConnectAddr); host == "" {
		return nil, fmt.Errorf("server: no PostgreSQL host: set POSTGRES_SEEDS (the database address is %q)", ds.SQL.ConnectAddr)
	}
	return ds.SQL, nil
}

func (s *EnvServer) setupSchema() error {
	p := s.conf.Persistence
	for _, st := range []struct{ store, schema string }{
		{p.DefaultStore, postgresSchema},
		{p.VisibilityStore, postgresVisibilitySchema},
	} {
		ds, ok := p.DataStores[st.store]
		if !ok || ds.SQL == nil || !postgresPlugins[ds.SQL.PluginName] {
			return fmt.Errorf("store %q is not PostgreSQL: its schema cannot be set up here", st.store)
		}
		if _, err := SetupSQLSchema(ds.SQL, "postgres", st.schema); err != nil {
			return err
		}
	}
	return nil
}

// checkEnvTLS loads the frontend's TLS files before the server does: the
// server reads them only at the first handshake, and a wrong path would
// show up as clients failing to connect.
func checkEnvTLS(t *config.RootTLS) error {
	front := t.Frontend.Server
	if front.CertFile == "" && front.KeyFile == "" {
		if front.RequireClientAuth {
			return errors.New("TEMPORAL_TLS_REQUIRE_CLIENT_AUTH needs TEMPORAL_TLS_FRONTEND_CERT and TEMPORAL_TLS_FRONTEND_KEY")
		}
		return nil
	}
	opts := &TLSOptions{CertFile: front.CertFile, KeyFile: front.KeyFile, RequireClientCert: front.RequireClientAuth}
	for _, ca := range front.ClientCAFiles {
		if ca != "" {
			opts.ClientCAFile = ca
			if err := checkTLS(opts); err != nil {
				return err
			}
		}
	}
	if opts.ClientCAFile == "" && front.RequireClientAuth {
		return errors.New("TEMPORAL_TLS_REQUIRE_CLIENT_AUTH needs TEMPORAL_TLS_CLIENT1_CA_CERT, the CA of the clients' certificates")
	}
	if front.RequireClientAuth && t.Internode.Server.CertFile == "" && t.Internode.Server.CertData == "" {
		// The server's own system worker is a client of the frontend too,
		// and presents the internode certificate.
		return errors.New("with TEMPORAL_TLS_REQUIRE_CLIENT_AUTH the server's own worker needs a client certificate the frontend trusts: set TEMPORAL_TLS_SERVER_CERT and TEMPORAL_TLS_SERVER_KEY (the server certificate of `outflow certs dev-ca` serves both ways) and TEMPORAL_TLS_SERVER_CA_CERT")
	}
	return checkTLS(opts)
}

// waitForFrontend returns once the frontend answers for the namespace. It
// connects as the server's own system worker does, with the TLS settings
// of the environment (TEMPORAL_TLS_SERVER_CERT as client certificate,
// TEMPORAL_TLS_SERVER_CA_CERT and TEMPORAL_TLS_FRONTEND_SERVER_NAME).
func (s *EnvServer) waitForFrontend(ctx context.Context) error {
	creds := insecure.NewCredentials()
	if s.conf.Global.TLS.Frontend.IsServerEnabled() {
		provider, err := encryption.NewTLSConfigProviderFromConfig(s.conf.Global.TLS, metrics.NoopMetricsHandler, &serverLogger{log: slog.New(slog.DiscardHandler), level: s.logLevel}, nil)
		if err != nil {
			return fmt.Errorf("TLS settings: %w", err)
		}
		tlsConf, err := provider.GetFrontendClientConfig()
		if err != nil {
			return fmt.Errorf("TLS settings of the frontend client: %w", err)
		}
		if tlsConf != nil {
			creds = credentials.NewTLS(tlsConf)
		}
	}
	conn, err := grpc.NewClient(s.frontendAddr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("connecting to the frontend at %s: %w", s.frontendAddr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := workflowservice.NewWorkflowServiceClient(conn)
	for {
		_, err := client.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.namespace})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the frontend at %s did not serve namespace %q: %w", s.frontendAddr, s.namespace, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FrontendAddress is the host:port of the frontend on this machine.
func (s *EnvServer) FrontendAddress() string { return s.frontendAddr }

// Namespace is the namespace the server was started with.
func (s *EnvServer) Namespace() string { return s.namespace }

// Security says how the frontend is reached: plaintext, TLS, or mutual TLS.
func (s *EnvServer) Security() string {
	front := s.conf.Global.TLS.Frontend.Server
	switch {
	case front.CertFile == "" && front.CertData == "":
		return "plaintext"
	case front.RequireClientAuth:
		return "mutual TLS: client certificates required"
	}
	return "TLS"
}

// Database describes where the server keeps its state, without passwords.
func (s *EnvServer) Database() string {
	p := s.conf.Persistence
	main := p.DataStores[p.DefaultStore].SQL
	vis := p.DataStores[p.VisibilityStore].SQL
	d := describeSQL(main)
	if vis != nil && vis.DatabaseName != main.DatabaseName {
		d += ", visibility in database " + vis.DatabaseName
	}
	return d
}

func describeSQL(c *config.SQL) string {
	user := ""
	if c.User != "" {
		user = c.User + "@"
	}
	kind := c.PluginName
	if strings.HasPrefix(kind, "postgres") {
		kind = "PostgreSQL"
	}
	return fmt.Sprintf("%s %s%s/%s", kind, user, c.ConnectAddr, c.DatabaseName)
}

// Stop stops every service. It is safe to call more than once.
func (s *EnvServer) Stop() error {
	s.stopOnce.Do(func() {
		if s.logLevel.Level() >= slog.LevelWarn {
			s.logLevel.Set(levelOff)
		}
		if s.temporal != nil {
			if err := recoverFatal(s.temporal.Stop); err != nil {
				s.stopErr = fmt.Errorf("stopping server: %w", err)
			}
		}
	})
	return s.stopErr
}
