package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/hsm"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker"
)

// The keystore forms beyond one file, for `outflow certs inspect` and
// `certs check`: a certificate and key as separate files, a key in a
// PKCS#11 token, a certificate Vault's PKI engine issues, and a profile's
// keystore whatever its form.

// certFormFlags are the flags of certs inspect for the other forms.
type certFormFlags struct {
	key, chain                              string
	pkcs11Module, tokenLabel, keyLabel, pin string
	profile, config                         string
	password, keyPassword                   string
	within                                  time.Duration
	asJSON                                  bool
}

func (f *certFormFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "the private key file of the certificate FILE (PEM: PKCS#1, PKCS#8, encrypted PKCS#8 with --password, EC), as tls.crt and tls.key")
	fl.StringVar(&f.chain, "chain", "", "more of the chain of the certificate FILE (PEM), as ca.crt")
	fl.StringVar(&f.pkcs11Module, "pkcs11-module", "", "inspect a PKCS#11 token through this module (a .so file); FILE, if given, is the certificate of --key-label's key")
	fl.StringVar(&f.tokenLabel, "token-label", "", "the label of the PKCS#11 token")
	fl.StringVar(&f.keyLabel, "key-label", "", "the label of the private key in the token")
	fl.StringVar(&f.pin, "pin", "", "the token's user PIN as a secret reference (env:NAME, file:PATH)")
	fl.StringVar(&f.profile, "profile", "", "inspect the keystore of this protocol profile of the project, whatever its form (a Vault PKI role is read live with --config)")
	fl.StringVar(&f.config, "config", "", "a worker config (agent.yaml) whose secrets: resolve references and reach Vault, as the worker does")
}

// configResolver resolves secrets as a worker with the config at path
// would, or, without one, from the environment and files.
func configResolver(ctx context.Context, path, projectDir string) (*secrets.Resolver, error) {
	if path == "" {
		return secrets.New(projectDir), nil
	}
	cfg, err := worker.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return cfg.SecretResolver(ctx, projectDir, nil)
}

// checkOptions are the options of CheckProfileWith for commands: secrets
// from res, Vault PKI roles read from its Vault when there is one.
func checkOptions(res *secrets.Resolver, within time.Duration) steps.CheckOptions {
	o := steps.CheckOptions{Resolve: res.Resolve, Now: time.Now(), Within: within}
	if v, ok := res.VaultPKI(); ok {
		o.Vault = v
	}
	return o
}

// inspectForm runs certs inspect for the other forms; handled is false when
// the flags ask for none of them (a keystore file).
func inspectForm(cmd *cobra.Command, g *globalFlags, f *certFormFlags, args []string) (handled bool, err error) {
	ctx := cmd.Context()
	switch {
	case f.profile != "":
		return true, inspectProfile(cmd, g, f)
	case f.pkcs11Module != "":
		res, err := configResolver(ctx, f.config, "")
		if err != nil {
			return true, err
		}
		return true, inspectToken(cmd, f, res, args)
	case f.key != "" || f.chain != "":
		if len(args) != 1 {
			return true, fmt.Errorf("--key and --chain go with the certificate file: outflow certs inspect tls.crt --key tls.key [--chain ca.crt]")
		}
		res, err := configResolver(ctx, f.config, "")
		if err != nil {
			return true, err
		}
		return true, inspectPair(cmd, f, res, args[0])
	}
	return false, nil
}

func inspectPair(cmd *cobra.Command, f *certFormFlags, res *secrets.Resolver, cert string) error {
	var bundle []byte
	for _, file := range []string{cert, f.key, f.chain} {
		if file == "" {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		bundle = append(append(bundle, data...), '\n')
	}
	pw, err := resolveFlag(cmd.Context(), res, f.keyPassword)
	if err == nil && pw == "" {
		pw, err = resolveFlag(cmd.Context(), res, f.password)
	}
	if err != nil {
		return err
	}
	rep := keystore.Inspect(bundle, "", pw, "", time.Now(), f.within)
	return printReport(cmd, f.asJSON, fmt.Sprintf("certificate %s, key %s", cert, f.key), rep)
}

func resolveFlag(ctx context.Context, res *secrets.Resolver, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	return res.Resolve(ctx, ref)
}

func printReport(cmd *cobra.Command, asJSON bool, title string, rep keystore.Report) error {
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n", title)
		_ = rep.WriteText(cmd.OutOrStdout())
	}
	if rep.HasErrors() {
		return exitError{1}
	}
	return nil
}

// tokenInspection is certs inspect --pkcs11-module as JSON.
type tokenInspection struct {
	Token       *hsm.TokenReport `json:"token"`
	Certificate *keystore.Report `json:"certificate,omitempty"`
	Error       string           `json:"error,omitempty"`
}

func inspectToken(cmd *cobra.Command, f *certFormFlags, res *secrets.Resolver, args []string) error {
	if f.tokenLabel == "" {
		return fmt.Errorf("--pkcs11-module needs --token-label: the label of the token to inspect")
	}
	pin, err := resolveFlag(cmd.Context(), res, f.pin)
	if err != nil {
		return err
	}
	cfg := hsm.Config{Module: f.pkcs11Module, TokenLabel: f.tokenLabel, KeyLabel: f.keyLabel, PIN: pin}
	rep, err := hsm.Inspect(cfg)
	if err != nil {
		return err
	}
	out := tokenInspection{Token: rep, Error: rep.SelectedError}
	if len(args) == 1 && f.keyLabel != "" && rep.SelectedError == "" {
		data, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		r := inspectWithToken(cfg, data, f.within)
		out.Certificate = &r
	}
	if f.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		writeToken(cmd.OutOrStdout(), rep, f.keyLabel)
		if out.Certificate != nil {
			fmt.Fprintf(cmd.OutOrStdout(), "\ncertificate %s with key %q\n", args[0], f.keyLabel)
			_ = out.Certificate.WriteText(cmd.OutOrStdout())
		}
	}
	if rep.SelectedError != "" || (out.Certificate != nil && out.Certificate.HasErrors()) {
		return exitError{1}
	}
	return nil
}

// inspectWithToken reports a certificate file whose key is in the token.
func inspectWithToken(cfg hsm.Config, data []byte, within time.Duration) keystore.Report {
	now := time.Now()
	fail := func(err error) keystore.Report {
		r := keystore.Inspect(data, "", "", "", now, within)
		var ke *keystore.Error
		p := keystore.Problem{Code: "keystore_unreadable", Severity: keystore.SeverityError, Message: err.Error()}
		if errors.As(err, &ke) {
			p = ke.Problem()
		}
		r.Problems = append([]keystore.Problem{p}, r.Problems...)
		return r
	}
	key, err := hsm.Open(cfg)
	if err != nil {
		return fail(err)
	}
	store, err := keystore.Load(data, "", "", "")
	if err != nil {
		return fail(err)
	}
	var leaf *keystore.Entry
	for _, e := range store.Entries {
		if len(e.Chain) > 0 {
			leaf = e
			break
		}
	}
	if leaf == nil {
		return fail(fmt.Errorf("the file holds no certificate"))
	}
	signer, err := key.Bind(leaf.Chain[0])
	if err != nil {
		return fail(err)
	}
	return keystore.InspectExternal(data, signer, keystore.KeyPKCS11, now, within)
}

func writeToken(w io.Writer, rep *hsm.TokenReport, keyLabel string) {
	fmt.Fprintf(w, "PKCS#11 module %s (%s)\n", rep.Module, rep.Library)
	fmt.Fprintf(w, "token %q: %s %s, serial %s; ", rep.TokenLabel, rep.Manufacturer, rep.Model, rep.Serial)
	if rep.LoggedIn {
		fmt.Fprintln(w, "opened with the PIN")
	} else {
		fmt.Fprintln(w, "not logged in (give --pin to see private objects)")
	}
	fmt.Fprintf(w, "mechanisms TLS uses: %s\n", strings.Join(rep.Mechanisms, ", "))
	fmt.Fprintln(w, "private keys:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, k := range rep.Keys {
		mark := ""
		if k.Label == keyLabel {
			mark = "← key_label"
		}
		fmt.Fprintf(tw, "  %s\t%s\tid %s\t%s\n", k.Label, k.Type, k.ID, mark)
	}
	tw.Flush()
	if len(rep.Keys) == 0 {
		fmt.Fprintln(w, "  none")
	}
	now := time.Now()
	for _, c := range rep.Certificates {
		fmt.Fprintf(w, "certificate in the token: %s, expires %s (%d days left)\n", c.Subject, c.NotAfter.Format(time.DateOnly), int(c.NotAfter.Sub(now).Hours()/24))
	}
	if len(rep.OtherTokens) > 0 {
		fmt.Fprintf(w, "other tokens: %s\n", strings.Join(rep.OtherTokens, ", "))
	}
	if rep.SelectedError != "" {
		fmt.Fprintf(w, "error: %s\n", rep.SelectedError)
	}
}

// inspectProfile checks one profile's keystore, whatever its form, as the
// worker with --config would open it.
func inspectProfile(cmd *cobra.Command, g *globalFlags, f *certFormFlags) error {
	proj, err := openProject(g.project)
	if err != nil {
		return reportProblems(cmd, err)
	}
	p, err := proj.Profile(f.profile)
	if err != nil {
		return fmt.Errorf("%w (protocol profiles: %s)", err, strings.Join(proj.Names().Profiles, ", "))
	}
	res, err := configResolver(cmd.Context(), f.config, proj.Root())
	if err != nil {
		return err
	}
	pc := steps.CheckProfileWith(cmd.Context(), p, proj.Root(), checkOptions(res, f.within))
	var token *hsm.TokenReport
	if ks := p.Keystore; ks.Form() == engine.KeystorePKCS11 {
		if pin, err := resolveFlag(cmd.Context(), res, refOf(ks.PKCS11.PIN)); err == nil {
			token, _ = hsm.Inspect(hsm.Config{Module: ks.PKCS11.Module, TokenLabel: ks.PKCS11.TokenLabel, KeyLabel: ks.PKCS11.KeyLabel, PIN: pin})
		}
	}
	if f.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			steps.ProfileCheck
			Token *hsm.TokenReport `json:"token,omitempty"`
		}{pc, token})
	} else {
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "protocol profile %q (%s)\n", pc.Profile, pc.Source)
		if token != nil {
			writeToken(w, token, p.Keystore.PKCS11.KeyLabel)
		}
		writeCheck(w, []steps.ProfileCheck{pc}, f.within, formatWithin(f.within))
		writeNotes(w, pc, true)
	}
	if pc.HasErrors() {
		return exitError{1}
	}
	return nil
}

func refOf(r *engine.SecretRef) string {
	if r == nil {
		return ""
	}
	return r.Ref
}

// writeCheck prints the certificate table of certs check; it reports
// whether one expires within the window.
func writeCheck(w io.Writer, checks []steps.ProfileCheck, within time.Duration, label string) bool {
	now := time.Now()
	failed := false
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tROLE\tSUBJECT\tEXPIRES\tDAYS LEFT\tFILE")
	for _, c := range checks {
		for _, s := range c.Certs {
			mark := ""
			if s.NotAfter.Before(now.Add(within)) {
				mark = "  ← expires within " + label
				failed = true
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%s\t%s\n", c.Profile, s.Role, s.Subject, s.NotAfter.Format("2006-01-02"), s.DaysLeft, mark, s.File)
		}
	}
	tw.Flush()
	return failed
}

// writeNotes prints where a profile's key material is read, why it was not
// checked, and its problems (info too, when all).
func writeNotes(w io.Writer, c steps.ProfileCheck, all bool) {
	if c.Where != "" {
		fmt.Fprintf(w, "%s: note: %s\n", c.Profile, c.Where)
	}
	if c.NotChecked != "" {
		fmt.Fprintf(w, "%s: %s\n", c.Profile, c.NotChecked)
	}
	for _, p := range c.Problems {
		if p.Severity != keystore.SeverityInfo || all {
			fmt.Fprintf(w, "%s: %s: %s\n", c.Profile, p.Severity, p.Message)
		}
	}
}

func formatWithin(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return d.String()
}
