package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker/codec"
)

func codecServerCmd(g *globalFlags) *cobra.Command {
	var (
		addr      string
		origins   []string
		tokenRef  string
		basicRef  string
		allowOpen bool
	)
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve the payload codec endpoint, so the Temporal Web UI shows encrypted payloads to people allowed to see them",
		Long: `Serve the payload codec endpoint over HTTP: the Temporal Web UI (setting
codecEndpoint, or "Data Encoder" in its settings) and "temporal --codec-endpoint"
send it encrypted payloads and get them back decrypted.

It needs the payload keys (--payload-key, as for the worker) and, unless
--allow-anonymous is given, credentials to ask of callers: --auth-token REF (a
bearer token) and/or --basic-auth REF (a secret whose value is user:password).
--cors-origin names the Web UI's address, such as http://localhost:8233.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, err := payloadCodec(ctx, g)
			if err != nil {
				return err
			}
			if c == nil {
				return fmt.Errorf("codec-server needs the payload keys: --payload-key env:%s (or set %s)", envPayloadKey, envPayloadKey)
			}
			res := secrets.New("")
			o := codec.ServerOptions{CORSOrigins: origins}
			if tokenRef != "" {
				if o.Token, err = res.Resolve(ctx, tokenRef); err != nil {
					return fmt.Errorf("reading --auth-token: %w", err)
				}
				if o.Token == "" {
					return fmt.Errorf("--auth-token %s is empty", tokenRef)
				}
			}
			if basicRef != "" {
				v, err := res.Resolve(ctx, basicRef)
				if err != nil {
					return fmt.Errorf("reading --basic-auth: %w", err)
				}
				var ok bool
				if o.BasicUser, o.BasicPassword, ok = strings.Cut(v, ":"); !ok || o.BasicUser == "" || o.BasicPassword == "" {
					return fmt.Errorf("--basic-auth %s: the value must be user:password", basicRef)
				}
			}
			if o.Token == "" && o.BasicUser == "" && !allowOpen {
				return errors.New("codec-server decrypts for whoever calls it: give --auth-token or --basic-auth, or --allow-anonymous when only trusted people reach its address")
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("codec-server: %w", err)
			}
			srv := &http.Server{Handler: codec.Handler(c, o), ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "codec endpoint http://%s (keys %s)\n", ln.Addr(), strings.Join(c.KeyIDs(), ", "))
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "address to listen on")
	cmd.Flags().StringSliceVar(&origins, "cors-origin", nil, "browser origins allowed to call the endpoint: the Temporal Web UI's address, such as http://localhost:8233")
	cmd.Flags().StringVar(&tokenRef, "auth-token", "", "secret reference of a bearer token callers must send (Authorization: Bearer …)")
	cmd.Flags().StringVar(&basicRef, "basic-auth", "", "secret reference of user:password accepted as HTTP basic authentication")
	cmd.Flags().BoolVar(&allowOpen, "allow-anonymous", false, "serve without credentials")
	return cmd
}

// serveDevCodec serves the codec endpoint for outflow dev's Web UI on a free
// loopback port until ctx ends, and returns its URL.
func serveDevCodec(ctx context.Context, c *codec.AESGCM, uiPort int) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("serving the payload codec: %w", err)
	}
	origins := []string{fmt.Sprintf("http://127.0.0.1:%d", uiPort), fmt.Sprintf("http://localhost:%d", uiPort)}
	srv := &http.Server{Handler: codec.Handler(c, codec.ServerOptions{CORSOrigins: origins}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + ln.Addr().String(), nil
}
