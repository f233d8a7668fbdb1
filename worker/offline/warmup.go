package offline

import (
	"crypto/fips140"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"go.temporal.io/sdk/worker"
)

var (
	warmOnce sync.Once
	warmErr  error
)

// warmUp does, once per process and before any workflow runs, the one-time
// work the SDK's test environment would otherwise do on the workflow
// goroutine of the first test: hashing the executable for the worker's
// binary checksum. A real worker hashes it when it starts; the test
// environment hashes it lazily, inside the first ExecuteActivity of the
// first workflow. For the outflow binary (~200 MB, most of it the embedded
// Temporal server) that took 550–950 ms under CPU load, past the 1 s
// deadlock detector of a busy CI runner. The checksum is computed as the
// SDK computes it (MD5 of the executable, SHA-256 in FIPS mode), so the
// identifier is the same, only the time it is computed changes.
func warmUp() error {
	warmOnce.Do(func() {
		sum, err := binaryChecksum()
		if err != nil {
			warmErr = fmt.Errorf("hashing the executable for the worker's binary checksum: %w", err)
			return
		}
		worker.SetBinaryChecksum(sum)
	})
	return warmErr
}

func binaryChecksum() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var h hash.Hash = md5.New()
	if fips140.Enabled() {
		h = sha256.New()
	}
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
