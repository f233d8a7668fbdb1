package worker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/outflow-dev/outflow/steps/secrets"
)

// SecretResolver returns the resolver a worker started with this config
// resolves step secrets with — env: and file: under projectDir, and the
// vault: and cyberark: stores of secrets: — for commands that open key
// material as a worker would (outflow certs check --config). The Vault
// provider also issues and describes certificates (Resolver.VaultPKI).
func (c *Config) SecretResolver(ctx context.Context, projectDir string, logger *slog.Logger) (*secrets.Resolver, error) {
	if logger == nil {
		logger = slog.Default()
	}
	boot := secrets.New(c.dir())
	res := secrets.New(projectDir)
	if err := c.registerProviders(ctx, res, boot, logger); err != nil {
		return nil, fmt.Errorf("setting up the secret stores of %s: %w", c.File, err)
	}
	return res, nil
}
