package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// parseWithin reads "30d", "12h" or "720h".
func parseWithin(s string) (time.Duration, error) { return parseDays("within", s) }

// parseDays reads the value of a window flag: a number of days ("30d") or
// a Go duration ("12h", "90m").
func parseDays(flag, s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--%s %q: want a number of days like 30d or a duration like 72h", flag, s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--%s %q: want a number of days like 30d or a duration like 72h", flag, s)
	}
	return d, nil
}

func certsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "certs", Short: "Inspect keystores and check the certificates of protocol profiles"}

	var password, keyPassword, alias, within string
	var asJSON bool
	inspect := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show everything in a keystore or PEM bundle (entries, chain, key, EKU, validity) and its problems",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := parseWithin(within)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			res := secrets.New("")
			pw, kpw := "", ""
			if password != "" {
				if pw, err = res.Resolve(cmd.Context(), password); err != nil {
					return fmt.Errorf("--password takes a secret reference such as env:NAME or file:PATH: %w", err)
				}
			}
			if keyPassword != "" {
				if kpw, err = res.Resolve(cmd.Context(), keyPassword); err != nil {
					return fmt.Errorf("--key-password takes a secret reference such as env:NAME or file:PATH: %w", err)
				}
			}
			rep := keystore.Inspect(data, pw, kpw, alias, time.Now(), w)
			rep.NameSettings("--password", "--key-password")
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				_ = enc.Encode(rep)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", args[0])
				_ = rep.WriteText(cmd.OutOrStdout())
			}
			if rep.HasErrors() {
				return exitError{1}
			}
			return nil
		},
	}
	inspect.Flags().StringVar(&password, "password", "", "store password as a secret reference (env:NAME, file:PATH)")
	inspect.Flags().StringVar(&keyPassword, "key-password", "", "key password as a secret reference, when it differs from the store's")
	inspect.Flags().StringVar(&alias, "alias", "", "the private-key entry to check")
	inspect.Flags().StringVar(&within, "within", "30d", "warn about certificates expiring within this window")
	inspect.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var checkWithin string
	var checkJSON bool
	check := &cobra.Command{
		Use:   "check",
		Short: "List every protocol profile's certificates with days left; exit 1 when one expires within the window",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := parseWithin(checkWithin)
			if err != nil {
				return err
			}
			proj, err := openProject(g.project)
			if err != nil {
				return reportProblems(cmd, err)
			}
			checks := checkProfiles(cmd.Context(), proj, w)
			now := time.Now()
			failed := false
			if checkJSON {
				_ = json.NewEncoder(cmd.OutOrStdout()).Encode(checks)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			if !checkJSON {
				fmt.Fprintln(tw, "PROFILE\tROLE\tSUBJECT\tEXPIRES\tDAYS LEFT\tFILE")
			}
			for _, c := range checks {
				for _, s := range c.Certs {
					mark := ""
					if s.NotAfter.Before(now.Add(w)) {
						mark = "  ← expires within " + checkWithin
						failed = true
					}
					if !checkJSON {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%s\t%s\n", c.Profile, s.Role, s.Subject, s.NotAfter.Format("2006-01-02"), s.DaysLeft, mark, s.File)
					}
				}
				if c.HasErrors() {
					failed = true
				}
			}
			tw.Flush()
			if !checkJSON {
				for _, c := range checks {
					if c.NotChecked != "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", c.Profile, c.NotChecked)
					}
					for _, p := range c.Problems {
						if p.Severity != keystore.SeverityInfo {
							fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s: %s\n", c.Profile, p.Severity, p.Message)
						}
					}
				}
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
	check.Flags().StringVar(&checkWithin, "within", "30d", "fail when a certificate expires within this window")
	check.Flags().BoolVar(&checkJSON, "json", false, "print JSON")

	devCA := &cobra.Command{
		Use:   "dev-ca DIR",
		Short: "Make a throwaway CA with a server certificate and client certificates (clientAuth EKU) for development",
		Long: `Make a throwaway CA with a server certificate and client certificates for
development and test deployments, as PEM files in DIR: ca.crt and ca.key,
server.crt and server.key, and for each client NAME.crt, NAME.key and
NAME-bundle.pem (chain and key in one file).

The server certificate names every --host and carries both the serverAuth and
the clientAuth usage: a Temporal server presents it to clients, and also as
the client certificate of its own services (internode TLS and its system
worker's connection to the frontend). Client certificates carry clientAuth.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeDevCA(args[0], cmd)
		},
	}
	devCA.Flags().StringSlice("host", []string{"localhost", "127.0.0.1", "temporal"}, "names and addresses of the server certificate")
	devCA.Flags().StringSlice("client", []string{"worker", "agent"}, "common names of the client certificates to issue")
	devCA.Flags().Bool("if-missing", false, "do nothing when DIR already holds a CA (ca.crt), so a container that runs at every start keeps the certificates it made")
	cmd.AddCommand(inspect, check, devCA)
	return cmd
}

func writeDevCA(dir string, cmd *cobra.Command) error {
	hosts, _ := cmd.Flags().GetStringSlice("host")
	clients, _ := cmd.Flags().GetStringSlice("client")
	if ifMissing, _ := cmd.Flags().GetBool("if-missing"); ifMissing {
		if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
			fmt.Fprintf(cmd.OutOrStdout(), "%s already holds a CA: kept\n", dir)
			return nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := devpki.NewCA("Outflow Dev CA", nil)
	if err != nil {
		return err
	}
	if _, _, err := ca.WriteFiles(dir, "ca"); err != nil {
		return err
	}
	if len(hosts) == 0 {
		return errors.New("--host: the server certificate needs at least one name or address")
	}
	srv, err := ca.IssueServer(hosts[0], hosts, &devpki.Options{
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	if _, err := srv.WriteFiles(dir, "server"); err != nil {
		return err
	}
	for _, c := range clients {
		leaf, err := ca.IssueClient(c, nil)
		if err != nil {
			return err
		}
		if _, err := leaf.WriteFiles(dir, c); err != nil {
			return err
		}
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*"))
	sort.Strings(entries)
	for _, e := range entries {
		fmt.Fprintln(cmd.OutOrStdout(), e)
	}
	return nil
}

func checkProfiles(ctx context.Context, proj *flows.Project, within time.Duration) []steps.ProfileCheck {
	res := secrets.New(proj.Root())
	var out []steps.ProfileCheck
	for _, name := range proj.Names().Profiles {
		p, err := proj.Profile(name)
		if err != nil {
			continue
		}
		out = append(out, steps.CheckProfile(ctx, p, proj.Root(), res.Resolve, time.Now(), within))
	}
	return out
}

// certProblems turns what the profiles' keystores say into positioned
// problems for `outflow validate`: errors fail validation, warnings do not.
func certProblems(ctx context.Context, proj *flows.Project) []validateFinding {
	var out []validateFinding
	// Each problem is positioned at the field it is about (keystore.path,
	// keystore.password, ...), not at the profile's first line.
	at := func(c steps.ProfileCheck, field string) string {
		if pos := proj.Position(flows.KindProtocolProfile, c.Profile, field); pos != "" {
			return pos
		}
		return c.Source
	}
	for _, c := range checkProfiles(ctx, proj, 30*24*time.Hour) {
		for _, p := range c.Problems {
			if p.Severity == keystore.SeverityInfo {
				continue
			}
			out = append(out, validateFinding{where: at(c, c.Field(p)), profile: c.Profile, severity: string(p.Severity), message: p.Message})
		}
		if c.NotChecked != "" {
			out = append(out, validateFinding{where: at(c, c.NotCheckedField), profile: c.Profile, severity: "note", message: c.NotChecked})
		}
	}
	return out
}

type validateFinding struct {
	where, profile, severity, message string
}

func (f validateFinding) String() string {
	return fmt.Sprintf("%s: protocol profile %q: %s: %s", f.where, f.profile, f.severity, f.message)
}

func hasErrors(fs []validateFinding) bool {
	for _, f := range fs {
		if f.severity == string(keystore.SeverityError) {
			return true
		}
	}
	return false
}

// warnExpiringCertificates warns, when a worker starts with a project, about
// every profile certificate that expires within its profile's warning window.
func warnExpiringCertificates(cmd *cobra.Command, g *globalFlags) {
	proj, err := openProject(g.project)
	if err != nil {
		return
	}
	now := time.Now()
	for _, c := range checkProfiles(cmd.Context(), proj, 30*24*time.Hour) {
		window := 30 * 24 * time.Hour
		if p, err := proj.Profile(c.Profile); err == nil && p.ExpiryWarning > 0 {
			window = p.ExpiryWarning.D()
		}
		for _, s := range c.ExpiringWithin(now, window) {
			what := "expires"
			if s.DaysLeft < 0 {
				what = "expired"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: protocol profile %q: %s certificate %q %s on %s (%d days left)\n",
				c.Profile, s.Role, s.Subject, what, s.NotAfter.Format("2006-01-02"), s.DaysLeft)
		}
	}
}
