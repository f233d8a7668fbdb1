package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const (
	loopback    = "127.0.0.1"
	clusterName = "active"
)

// servicePorts are the ports of the services other than the frontend's gRPC
// port. The internal frontend exists only with TLS.
type servicePorts struct {
	frontendHTTP         int
	history              int
	matching             int
	worker               int
	internalFrontend     int
	internalFrontendHTTP int
}

func (s *Server) start(ctx context.Context) error {
	sqlConf := s.sqlConfig()
	if err := setupDB(sqlConf, s.opts.Namespace, s.opts.SearchAttributes); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	logger := &serverLogger{log: s.opts.Logger, level: s.logLevel}
	serverOpts := []temporal.ServerOption{
		temporal.WithConfig(s.serverConfig(sqlConf)),
		temporal.ForServices(s.services()),
		temporal.WithStaticHosts(s.staticHosts()),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicConfig(s.tempDir != "", s.opts.DynamicConfig)),
	}
	if err := recoverFatal(func() (err error) {
		s.temporal, err = temporal.NewServer(serverOpts...)
		return err
	}); err != nil {
		return fmt.Errorf("creating server: %w", err)
	}

	// The server's Start takes no context and has its own timeouts; when ctx
	// ends first, Start (the caller) stops the server once this returns.
	started := make(chan error, 1)
	go func() { started <- recoverFatal(s.temporal.Start) }()
	select {
	case err := <-started:
		if err != nil {
			return fmt.Errorf("starting server: %w", err)
		}
	case <-ctx.Done():
		<-started
		return ctx.Err()
	}

	conn, err := grpc.NewClient(s.internalAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connecting to the frontend: %w", err)
	}
	s.conn = conn
	if err := s.waitForNamespace(ctx); err != nil {
		return err
	}
	if err := s.ensureSearchAttributes(ctx); err != nil {
		return err
	}
	if s.opts.UIPort > 0 {
		if err := s.startUI(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) sqlConfig() *config.SQL {
	attrs := map[string]string{
		"mode":         "rwc",
		"journal_mode": "wal",
		// In WAL mode "normal" syncs only at checkpoints: a crash of the
		// process loses nothing, a power cut at most the last transactions,
		// and neither corrupts the file.
		"synchronous": "normal",
		// The server uses one connection, but a tool reading the file (the
		// sqlite3 shell) may hold the lock for a moment.
		"busy_timeout": "10000",
	}
	if s.tempDir != "" {
		// Nothing of an ephemeral server survives it, so never wait for
		// the disk.
		attrs["synchronous"] = "off"
	}
	return &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      s.opts.DBPath,
		ConnectAttributes: attrs,
	}
}

// setupDB creates the schema in a new database and the namespace when it is
// missing. It goes through the server's own SQLite plugin, which keeps one
// connection per file for the life of the process; the server then reuses
// that connection.
func setupDB(conf *config.SQL, namespace string, attrs map[string]enumspb.IndexedValueType) error {
	db, err := sql.NewSQLAdminDB(sqlplugin.DbKindUnknown, conf, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("opening database %s: %w", conf.DatabaseName, err)
	}
	tables, err := db.ListTables(conf.DatabaseName)
	_ = db.Close()
	if err != nil {
		return fmt.Errorf("reading database %s: %w", conf.DatabaseName, err)
	}
	have := map[string]bool{}
	for _, t := range tables {
		have[t] = true
	}
	switch {
	case len(tables) == 0:
		if err := sqliteschema.SetupSchema(conf); err != nil {
			return fmt.Errorf("creating schema in %s: %w", conf.DatabaseName, err)
		}
	case !have["namespaces"] || !have["executions_visibility"]:
		return fmt.Errorf("database %s has tables but not the Temporal schema; use another file", conf.DatabaseName)
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, attrs)
	if err != nil {
		return fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return fmt.Errorf("creating namespace %q: %w", namespace, err)
	}
	return nil
}

func (s *Server) services() []string {
	services := append([]string(nil), temporal.DefaultServices...)
	if s.opts.TLS != nil {
		services = append(services, string(primitives.InternalFrontendService))
	}
	return services
}

func (s *Server) staticHosts() map[primitives.ServiceName]static.Hosts {
	local := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort(loopback, strconv.Itoa(port)))
	}
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(s.frontendAddr),
		primitives.HistoryService:  local(s.ports.history),
		primitives.MatchingService: local(s.ports.matching),
		primitives.WorkerService:   local(s.ports.worker),
	}
	if s.opts.TLS != nil {
		hosts[primitives.InternalFrontendService] = local(s.ports.internalFrontend)
	}
	return hosts
}

func (s *Server) serverConfig(sqlConf *config.SQL) *config.Config {
	o := s.opts
	service := func(ip string, grpcPort, httpPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, HTTPPort: httpPort, BindOnIP: ip}}
	}
	conf := &config.Config{
		Services: map[string]config.Service{
			string(primitives.FrontendService): service(o.IP, o.Port, s.ports.frontendHTTP),
			string(primitives.HistoryService):  service(loopback, s.ports.history, 0),
			string(primitives.MatchingService): service(loopback, s.ports.matching, 0),
			string(primitives.WorkerService):   service(loopback, s.ports.worker, 0),
		},
		Persistence: config.Persistence{
			DefaultStore:    "sqlite",
			VisibilityStore: "sqlite",
			// SQLite takes one writer at a time, so more shards would only
			// add queue processors competing for the same lock.
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{"sqlite": {SQL: sqlConf}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             s.frontendAddr,
					HTTPAddress:            net.JoinHostPort(dialableIP(o.IP), strconv.Itoa(s.ports.frontendHTTP)),
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
	}
	conf.Global.Membership.MaxJoinDuration = 5 * time.Second
	conf.Global.Membership.BroadcastAddress = loopback
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	if o.TLS == nil {
		conf.PublicClient.HostPort = s.frontendAddr
	} else {
		// The system worker cannot present a client certificate the user's
		// CA signed, so the server's own components reach the frontend API
		// through a plaintext internal frontend on loopback. It is no wider
		// open than history and matching, which listen there too.
		conf.Services[string(primitives.InternalFrontendService)] = service(loopback, s.ports.internalFrontend, s.ports.internalFrontendHTTP)
		conf.Global.TLS.Frontend.Server = config.ServerTLS{
			CertFile:          o.TLS.CertFile,
			KeyFile:           o.TLS.KeyFile,
			RequireClientAuth: o.TLS.RequireClientCert,
		}
		if o.TLS.ClientCAFile != "" {
			conf.Global.TLS.Frontend.Server.ClientCAFiles = []string{o.TLS.ClientCAFile}
		}
	}
	return conf
}

// waitForNamespace returns once the frontend answers for the namespace.
// Start of the server returns when its services run, which can be a moment
// before the frontend has loaded its namespace registry.
func (s *Server) waitForNamespace(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := workflowservice.NewWorkflowServiceClient(s.conn)
	for {
		_, err := client.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.opts.Namespace})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("frontend did not serve namespace %q: %w", s.opts.Namespace, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ensureSearchAttributes adds the search attributes an existing namespace
// lacks; a new namespace got them when it was created.
func (s *Server) ensureSearchAttributes(ctx context.Context) error {
	if len(s.opts.SearchAttributes) == 0 {
		return nil
	}
	op := operatorservice.NewOperatorServiceClient(s.conn)
	list, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.opts.Namespace})
	if err != nil {
		return fmt.Errorf("listing search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, want := range s.opts.SearchAttributes {
		have, ok := list.GetCustomAttributes()[name]
		if !ok {
			have, ok = list.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = want
		case have != want:
			return fmt.Errorf("search attribute %s exists with type %s, want %s", name, have, want)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        s.opts.Namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("adding search attributes: %w", err)
	}
	// The new attributes live in the namespace record, which each service
	// re-reads every few seconds; until the frontend has, starting a
	// workflow with them fails. A query naming them tells when it has.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	wf := workflowservice.NewWorkflowServiceClient(s.conn)
	for name := range missing {
		for {
			_, err := wf.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
				Namespace: s.opts.Namespace,
				Query:     name + " IS NULL",
			})
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("search attribute %s was added but is not usable: %w", name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func (s *Server) startUI(ctx context.Context) error {
	host := s.opts.IP
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	conf := &uiconfig.Config{
		Host: host,
		Port: s.opts.UIPort,
		// With TLS the frontend wants a client certificate the UI does not
		// have; the internal frontend serves the same API on loopback.
		TemporalGRPCAddress: s.internalAddr,
		DefaultNamespace:    s.opts.Namespace,
		EnableUI:            true,
		HideLogs:            true,
		DisableNewsFetch:    true,
		// The UI is served over plain HTTP, where a Secure cookie would
		// never come back and every write action would fail the CSRF check.
		CORS:  uiconfig.CORS{CookieInsecure: true},
		Codec: uiconfig.Codec{Endpoint: s.opts.UICodecEndpoint},
	}
	var ui *uiserver.Server
	if err := recoverAny(func() { ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(conf)) }); err != nil {
		return fmt.Errorf("creating UI server: %w", err)
	}
	s.ui = ui
	s.uiDone = make(chan error, 1)
	// Start blocks while serving, and a failure to listen ends the process
	// inside the UI library; the port was checked to be free beforehand.
	go func() { s.uiDone <- ui.Start() }()

	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", s.uiAddr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-s.uiDone:
			s.uiDone <- err // Stop waits on it too
			return fmt.Errorf("UI server ended while starting: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("UI did not start listening on %s: %w", s.uiAddr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func recoverAny(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	fn()
	return nil
}
