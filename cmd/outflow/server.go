//go:build !noserver

package main

import (
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/worker/devserver"
)

func serverCmd(g *globalFlags) *cobra.Command {
	var (
		db          string
		setupSchema bool
		logLevel    string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Temporal server on PostgreSQL, configured by the same environment variables as Temporal's server image",
		Long: `Run a Temporal server (frontend, history, matching and worker services) on
PostgreSQL, for production-like deployments without a container engine.

It reads the environment variables of Temporal's official server image
(temporalio/server), so one set of settings serves docker-compose.yml and a
plain host (docs/deploy.md):

  DB=postgres12  POSTGRES_SEEDS  DB_PORT  POSTGRES_USER  POSTGRES_PWD
  DBNAME (temporal)  VISIBILITY_DBNAME (temporal_visibility)
  BIND_ON_IP  FRONTEND_GRPC_PORT (7233)  FRONTEND_HTTP_PORT  *_GRPC_PORT  *_MEMBERSHIP_PORT
  TEMPORAL_TLS_FRONTEND_CERT  TEMPORAL_TLS_FRONTEND_KEY  TEMPORAL_TLS_CLIENT1_CA_CERT
  TEMPORAL_TLS_REQUIRE_CLIENT_AUTH  TEMPORAL_TLS_SERVER_CERT  TEMPORAL_TLS_SERVER_KEY
  TEMPORAL_TLS_SERVER_CA_CERT  TEMPORAL_TLS_FRONTEND_SERVER_NAME  TEMPORAL_TLS_INTERNODE_SERVER_NAME
  DYNAMIC_CONFIG_FILE_PATH  LOG_LEVEL

Before starting it creates the databases when missing and brings their schema
to this server's version (--setup-schema), and creates the namespace
(--namespace) when missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if db != "" {
				if err := setPostgresEnv(db); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("log-level") && os.Getenv("LOG_LEVEL") != "" {
				logLevel = os.Getenv("LOG_LEVEL")
			}
			srv, err := devserver.StartFromEnv(ctx, devserver.EnvOptions{
				Namespace: g.namespace, SearchAttributes: engine.SearchAttributes, SetupSchema: setupSchema, LogLevel: logLevel, ExitOnFatal: true,
			})
			if err != nil {
				return err
			}
			defer srv.Stop()
			fmt.Fprintf(cmd.OutOrStdout(), "Temporal server ready at %s (namespace %s, %s, state in %s)\n",
				srv.FrontendAddress(), srv.Namespace(), srv.Security(), srv.Database())
			<-ctx.Done()
			fmt.Fprintln(cmd.OutOrStdout(), "stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "PostgreSQL URL postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE; sets DB, POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, POSTGRES_PWD and DBNAME (prefer POSTGRES_PWD for the password: a command line is visible to every user)")
	cmd.Flags().BoolVar(&setupSchema, "setup-schema", true, "create the databases when missing and update their schema before starting")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "the server's log level: debug, info, warn, error or off (default: $LOG_LEVEL, else warn)")
	return cmd
}

// setPostgresEnv turns a PostgreSQL URL into the variables Temporal's
// config template reads, so that --db and the environment are one setting.
func setPostgresEnv(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Hostname() == "" {
		return fmt.Errorf("--db %q: want postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE", redactURL(raw))
	}
	set := map[string]string{"DB": "postgres12", "POSTGRES_SEEDS": u.Hostname()}
	if p := u.Port(); p != "" {
		set["DB_PORT"] = p
	}
	if u.User != nil {
		set["POSTGRES_USER"] = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			set["POSTGRES_PWD"] = pw
		}
	}
	if name := strings.Trim(u.Path, "/"); name != "" {
		set["DBNAME"] = name
	}
	if os.Getenv("DB") != "" && os.Getenv("DB") != "postgres12" && os.Getenv("DB") != "postgres12_pgx" {
		return fmt.Errorf("--db gives PostgreSQL but DB=%s is set", os.Getenv("DB"))
	}
	for k, v := range set {
		if k == "DB" && os.Getenv("DB") != "" {
			continue // keep postgres12_pgx when asked for
		}
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// redactURL hides a password in a URL for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
