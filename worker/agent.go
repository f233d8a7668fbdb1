package worker

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// AgentOptions adjust an agent started from its config.
type AgentOptions struct {
	// Address and Namespace, when set, replace the config's (command-line
	// flags win over the file).
	Address, Namespace string
	// Identity names the agent's workers in step records; default
	// NAME/PID@HOST.
	Identity string
	Logger   *slog.Logger
	// Observe and DataConverter are passed to Dial and Start.
	Observe       *Observability
	DataConverter converter.DataConverter
	// OwnSecrets are references the process uses itself besides those of
	// the config (its payload keys: PayloadKeySecrets); steps may not
	// resolve them.
	OwnSecrets []secrets.Denied
}

// Agent is a running agent: a Temporal client and the workers of its groups.
type Agent struct {
	Config    *Config
	Client    client.Client
	Address   string
	Namespace string
	Identity  string
	worker    *Worker
}

// Stop stops the workers, waiting for running steps, and closes the client.
func (a *Agent) Stop() {
	a.worker.Stop()
	a.Client.Close()
}

// StartAgent connects to Temporal as cfg says (mutual TLS from its files)
// and starts the workers of its groups, with the secret providers and local
// key material of its config. It returns once the workers poll.
func StartAgent(ctx context.Context, cfg *Config, o AgentOptions) (*Agent, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	a := &Agent{Config: cfg, Address: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Identity: o.Identity}
	if o.Address != "" {
		a.Address = o.Address
	}
	if o.Namespace != "" {
		a.Namespace = o.Namespace
	}
	if a.Namespace == "" {
		a.Namespace = "default"
	}
	if a.Address == "" {
		return nil, fmt.Errorf("starting agent %q: no Temporal address: set temporal.address in %s, or --address", cfg.Name, cfg.File)
	}
	if a.Identity == "" {
		host, _ := os.Hostname()
		a.Identity = fmt.Sprintf("%s/%d@%s", cfg.Name, os.Getpid(), host)
	}

	projectDir := cfg.abs(cfg.ProjectDir)
	res, boot, err := cfg.resolvers(ctx, o, logger)
	if err != nil {
		return nil, fmt.Errorf("starting agent %q: %w", cfg.Name, err)
	}

	var tlsConf *tls.Config
	if t := cfg.Temporal.TLS; t != nil {
		ct, err := cfg.clientTLS(ctx, t, boot, logger)
		if err != nil {
			return nil, fmt.Errorf("starting agent %q: loading temporal.tls: %w", cfg.Name, err)
		}
		var problems []keystore.Problem
		tlsConf, problems, err = ct.Config()
		if err != nil {
			return nil, fmt.Errorf("starting agent %q: loading temporal.tls: %w", cfg.Name, err)
		}
		logProblems(logger, "Temporal client certificate", problems)
	}
	c, err := Dial(ctx, DialOptions{Address: a.Address, Namespace: a.Namespace, Logger: logger, TLS: tlsConf, Identity: a.Identity,
		DataConverter: o.DataConverter, Observe: o.Observe})
	if err != nil {
		return nil, fmt.Errorf("starting agent %q: %w", cfg.Name, err)
	}
	a.Client = c
	w, err := Start(Options{
		Client:                  c,
		Flows:                   cfg.Flows,
		NoDefaultSteps:          !cfg.DefaultSteps,
		Agents:                  cfg.Groups,
		Identity:                a.Identity,
		BaseDir:                 projectDir,
		Secrets:                 res,
		Agent:                   cfg.Agent(),
		Logger:                  logger,
		MaxConcurrentActivities: cfg.MaxConcurrentSteps,
		Observe:                 o.Observe,
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("starting agent %q: %w", cfg.Name, err)
	}
	a.worker = w
	return a, nil
}

// resolvers returns the resolver of steps — the project's references,
// through the providers the config sets up, within SecretPolicy — and the
// agent's own, for the secrets that open its connections (Temporal,
// Vault, CyberArk): env: and file: references, relative to the config's
// folder.
func (c *Config) resolvers(ctx context.Context, o AgentOptions, logger *slog.Logger) (res, boot *secrets.Resolver, err error) {
	boot = secrets.New(c.dir())
	res = secrets.New(c.abs(c.ProjectDir))
	if seen := o.Observe.seen(); seen != nil {
		boot.Watch(seen)
		res.Watch(seen)
	}
	if err := c.registerProviders(ctx, res, boot, logger); err != nil {
		return nil, nil, err
	}
	if err := res.Restrict(c.SecretPolicy(append(processSecrets(), o.OwnSecrets...)...)); err != nil {
		return nil, nil, err
	}
	return res, boot, nil
}

// registerProviders adds the vault: and cyberark: providers the config
// sets up to res, values cached for their cache_ttl.
func (c *Config) registerProviders(ctx context.Context, res, boot *secrets.Resolver, logger *slog.Logger) error {
	if v := c.Secrets.Vault; v != nil {
		hc, err := c.httpClient(ctx, "secrets.vault", v.TLS, boot, logger)
		if err != nil {
			return err
		}
		o := secrets.VaultOptions{Address: v.Address, Namespace: v.Namespace, Mounts: v.Mounts, Client: hc}
		if v.Token != nil {
			ref := v.Token.Ref
			o.Token = func(ctx context.Context) (string, error) { return boot.Resolve(ctx, ref) }
		}
		if ar := v.AppRole; ar != nil {
			ref := ar.SecretID.Ref
			o.AppRole = &secrets.AppRole{Mount: ar.Mount, RoleID: ar.RoleID,
				SecretID: func(ctx context.Context) (string, error) { return boot.Resolve(ctx, ref) }}
		}
		p, err := secrets.NewVault(o)
		if err != nil {
			return fmt.Errorf("setting up secrets.vault: %w", err)
		}
		res.Register("vault", secrets.Cached(p, cacheTTL(v.CacheTTL)))
	}
	if ca := c.Secrets.CyberArk; ca != nil {
		hc, err := c.httpClient(ctx, "secrets.cyberark", ca.TLS, boot, logger)
		if err != nil {
			return err
		}
		p, err := secrets.NewCyberArk(secrets.CyberArkOptions{URL: ca.URL, AppID: ca.AppID, Client: hc})
		if err != nil {
			return fmt.Errorf("setting up secrets.cyberark: %w", err)
		}
		res.Register("cyberark", secrets.Cached(p, cacheTTL(ca.CacheTTL)))
	}
	return nil
}

func cacheTTL(d *Duration) time.Duration {
	if d == nil {
		return secrets.DefaultCacheTTL
	}
	return time.Duration(*d)
}

// absFileRef makes a relative file: reference of the config absolute: the
// step resolver reads relative file: references under the project folder,
// while the config's are relative to the config's own folder.
func (c *Config) absFileRef(r *engine.SecretRef) *engine.SecretRef {
	if r == nil {
		return nil
	}
	p, ok := strings.CutPrefix(r.Ref, "file:")
	if !ok || filepath.IsAbs(p) {
		return r
	}
	return &engine.SecretRef{Ref: "file:" + c.abs(p)}
}
