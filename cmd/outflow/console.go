package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker/console"
)

// consoleFlags say how the console listens and whom it lets in; `outflow
// console` and `outflow dev` share them.
type consoleFlags struct {
	auth      string
	role      string
	tokens    []string
	users     []string
	usersFile string
	tlsCert   string
	tlsKey    string
	clientCAs []string
	allow     []string
}

func (f *consoleFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.auth, "console-auth", "none", "how the console authenticates people: none (loopback only), bearer, basic or mtls")
	fl.StringVar(&f.role, "console-role", "operator", "the role of everyone with --console-auth none: operator or read-only")
	fl.StringArrayVar(&f.tokens, "console-token", nil, "a bearer token as NAME:ROLE:SECRETREF, such as ops:operator:env:CONSOLE_OPS_TOKEN (repeatable)")
	fl.StringArrayVar(&f.users, "console-user", nil, "a basic-auth user as NAME:ROLE:BCRYPT-HASH (make the hash with `outflow console hash-password`; repeatable)")
	fl.StringVar(&f.usersFile, "console-users", "", "a file of basic-auth users, one NAME:ROLE:BCRYPT-HASH a line")
	fl.StringVar(&f.tlsCert, "console-tls-cert", "", "serve the console over HTTPS with this certificate (PEM)")
	fl.StringVar(&f.tlsKey, "console-tls-key", "", "the private key of --console-tls-cert (PEM)")
	fl.StringArrayVar(&f.clientCAs, "console-client-ca", nil, "with --console-auth mtls: the CA (PEM) client certificates must chain to (repeatable)")
	fl.StringArrayVar(&f.allow, "console-allow", nil, "with --console-auth mtls: ROLE:MATCH admits matching client certificates, MATCH being cn:NAME, dns:NAME, email:ADDR, uri:URI or a whole subject (repeatable)")
}

// config resolves the flags: secret references of tokens, files of users,
// certificates.
func (f *consoleFlags) config(ctx context.Context, projectDir string) (console.AuthConfig, *tls.Certificate, error) {
	a := console.AuthConfig{Mode: console.AuthMode(f.auth)}
	known := false
	for _, m := range console.AuthModes {
		known = known || m == a.Mode
	}
	if !known {
		return a, nil, fmt.Errorf("--console-auth %q: want none, bearer, basic or mtls", f.auth)
	}
	role, err := console.ParseRole(f.role)
	if err != nil {
		return a, nil, err
	}
	a.LocalRole = role
	res := secrets.New(projectDir)
	for _, t := range f.tokens {
		parts := strings.SplitN(t, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
			return a, nil, fmt.Errorf("--console-token %q: want NAME:ROLE:SECRETREF, such as ops:operator:env:CONSOLE_OPS_TOKEN", t)
		}
		r, err := console.ParseRole(parts[1])
		if err != nil {
			return a, nil, err
		}
		v, err := res.Resolve(ctx, parts[2])
		if err != nil {
			return a, nil, fmt.Errorf("--console-token %s: %w", parts[0], err)
		}
		a.Tokens = append(a.Tokens, console.Token{Name: parts[0], Role: r, Value: v})
	}
	users := append([]string(nil), f.users...)
	if f.usersFile != "" {
		lines, err := readLines(f.usersFile)
		if err != nil {
			return a, nil, fmt.Errorf("--console-users: %w", err)
		}
		users = append(users, lines...)
	}
	for _, u := range users {
		user, err := console.ParseUser(u)
		if err != nil {
			return a, nil, err
		}
		a.Users = append(a.Users, user)
	}
	if len(f.clientCAs) > 0 {
		a.ClientCAs = x509.NewCertPool()
		for _, file := range f.clientCAs {
			b, err := os.ReadFile(file)
			if err != nil {
				return a, nil, fmt.Errorf("--console-client-ca: %w", err)
			}
			if !a.ClientCAs.AppendCertsFromPEM(b) {
				return a, nil, fmt.Errorf("--console-client-ca %s: no PEM certificate in it", file)
			}
		}
	}
	for _, s := range f.allow {
		rule, err := console.ParseAllowRule(s)
		if err != nil {
			return a, nil, err
		}
		a.Allow = append(a.Allow, rule)
	}
	var cert *tls.Certificate
	switch {
	case f.tlsCert != "" && f.tlsKey != "":
		c, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return a, nil, fmt.Errorf("loading the console's certificate: %w", err)
		}
		cert = &c
	case f.tlsCert != "" || f.tlsKey != "":
		return a, nil, errors.New("--console-tls-cert and --console-tls-key go together")
	}
	return a, cert, nil
}

func readLines(file string) ([]string, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// startConsole listens on addr (after the listening policy agreed) and
// serves the console until ctx ends. It returns the console's URL.
// With anyPort, an address in use gives way to a free port of the same host
// (a second `outflow dev`, or tests running several).
func startConsole(ctx context.Context, addr string, anyPort bool, f *consoleFlags, g *globalFlags, c *engine.Client, logger *slog.Logger) (string, error) {
	a, cert, err := f.config(ctx, g.project)
	if err != nil {
		return "", err
	}
	var proj console.Project
	if st, err := os.Stat(g.project); err == nil && st.IsDir() {
		proj = &consoleProject{dir: g.project}
	}
	con, err := console.New(console.Options{Client: c, Project: proj, Auth: a, Logger: logger})
	if err != nil {
		return "", err
	}
	ln, err := console.Listen(addr, cert, a)
	if err != nil && anyPort && errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(addr)
		ln, err = console.Listen(net.JoinHostPort(host, "0"), cert, a)
	}
	if err != nil {
		return "", err
	}
	go func() {
		if err := con.Serve(ctx, ln); err != nil {
			logger.Error("console stopped", "err", err)
		}
	}()
	return console.URL(ln, cert != nil), nil
}

func consoleCmd(g *globalFlags) *cobra.Command {
	var (
		listen string
		f      consoleFlags
	)
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve the web console: executions and their steps, flows to test-run, schedules and certificates",
		Long: `console serves Outflow's web console against the Temporal at --address (the
same TLS variables and --payload-key as the other commands). It listens on
127.0.0.1 unless --listen says otherwise; any other address needs an
authentication mode (--console-auth bearer, basic or mtls) and HTTPS. See
docs/console.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The listening policy first: a refusal needs no Temporal.
			a, cert, err := f.config(ctx, g.project)
			if err != nil {
				return err
			}
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen %q: %w", listen, err)
			}
			if err := console.CheckListen(host, a, cert != nil); err != nil {
				return err
			}
			st, err := remoteStack(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			url, err := startConsole(ctx, listen, false, &f, g, st.client, logger)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "console          %s\n", url)
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8234", "address the console listens on")
	f.register(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "hash-password",
		Short: "Read a password from standard input and print its bcrypt hash, for --console-user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1024))
			if err != nil {
				return err
			}
			p := strings.TrimRight(string(pw), "\r\n")
			if len(p) < 8 {
				return errors.New("the password is shorter than 8 characters")
			}
			h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.DefaultCost)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(h))
			return nil
		},
	})
	return cmd
}

// consoleProject gives the console the project folder, read again on each
// page so that edits to the YAML show without a restart.
type consoleProject struct{ dir string }

func (p *consoleProject) load() (*flows.Project, error) { return openProject(p.dir) }

func (p *consoleProject) Root() string {
	if proj, err := p.load(); err == nil {
		return proj.Root()
	}
	return p.dir
}

func (p *consoleProject) Runnables() ([]console.Runnable, error) {
	proj, err := p.load()
	if err != nil {
		return nil, err
	}
	var out []console.Runnable
	for _, d := range proj.Documents() {
		if d.Kind == flows.KindFlow || d.Kind == flows.KindAction {
			out = append(out, console.Runnable{Kind: d.Kind, Name: d.Name, Description: d.Description, File: d.File, Line: d.Line})
		}
	}
	return out, nil
}

func (p *consoleProject) Plan(name string) (*engine.Plan, error) {
	proj, err := p.load()
	if err != nil {
		return nil, err
	}
	return proj.Plan(name)
}

func (p *consoleProject) StepPlan(name, step string) (*engine.Plan, error) {
	proj, err := p.load()
	if err != nil {
		return nil, err
	}
	return proj.StepPlan(name, step)
}

func (p *consoleProject) Profiles() ([]console.ProfileUse, error) {
	proj, err := p.load()
	if err != nil {
		return nil, err
	}
	names := proj.Names()
	var out []console.ProfileUse
	for _, name := range names.Profiles {
		prof, err := proj.Profile(name)
		if err != nil {
			continue
		}
		u := console.ProfileUse{Profile: prof}
		for _, cn := range names.Connections {
			conn, err := proj.Connection(cn)
			if err != nil || conn.ProtocolProfile != name {
				continue
			}
			u.Connections = append(u.Connections, cn)
			u.MutualAuth = u.MutualAuth || conn.MutualAuth
		}
		out = append(out, u)
	}
	return out, nil
}

var _ console.Project = (*consoleProject)(nil)
