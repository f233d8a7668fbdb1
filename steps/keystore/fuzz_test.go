package keystore

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// addFixtureSeeds seeds a fuzz target with every committed fixture whose
// name matches one of the patterns.
func addFixtureSeeds(f *testing.F, add func([]byte), patterns ...string) {
	for _, p := range patterns {
		files, err := filepath.Glob(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			add(fixture(f, filepath.Base(file)))
		}
	}
}

// FuzzLoad feeds arbitrary bytes and passwords to every reader: whatever the
// input, loading and inspecting must return, never panic or hang.
func FuzzLoad(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) { f.Add(b, pass) }, "*.jks", "*.p12", "*.pem", "*.der", "*.csr", "*.jceks")
	f.Add([]byte{}, "")
	f.Add([]byte("<html></html>"), "")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		if s, err := Load(data, password, "", ""); err == nil {
			_, _ = s.TLSCertificate()
			_ = s.Certificates()
		}
		r := Inspect(data, password, password, "alias", now, time.Hour)
		_ = r.Text()
	})
}

// FuzzPEM targets the PEM path (normalisation, block parsing, encrypted
// keys) and the format description, which read text in many ways.
func FuzzPEM(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) { f.Add(string(b)) }, "*.pem", "*.csr")
	f.Add("-----BEGIN CERTIFICATE----------BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----")
	f.Fuzz(func(t *testing.T, text string) {
		data := []byte(text)
		if s, err := readPEM(data, pass); s != nil && err == nil {
			_ = s.choose("")
			_, _ = s.TLSCertificate()
			_ = s.Problems(time.Time{}, time.Hour)
		}
		if d := describe(data); d == "" || strings.Contains(d, "%!") {
			t.Errorf("describe = %q", d)
		}
	})
}
