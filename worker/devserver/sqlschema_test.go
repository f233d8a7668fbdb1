package devserver

import (
	"testing"

	dbschemas "go.temporal.io/server/schema"
	pgschema "go.temporal.io/server/schema/postgresql/v12"
)

// TestSchemaStepsInOrder reads the PostgreSQL schemas embedded in the
// server module: versions sort as numbers (1.10 after 1.9), every step has
// statements, and the last step is the version the server requires.
func TestSchemaStepsInOrder(t *testing.T) {
	for dir, newest := range map[string]string{postgresSchema: pgschema.Version, postgresVisibilitySchema: pgschema.VisibilityVersion} {
		steps, err := schemaSteps(dbschemas.Assets(), dir)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range steps {
			if i > 0 && steps[i-1].version.compare(st.version) >= 0 {
				t.Errorf("%s: version %s comes after %s", dir, st.manifest.CurrVersion, steps[i-1].manifest.CurrVersion)
			}
			if v, _ := parseSchemaVersion(st.manifest.CurrVersion); v.compare(st.version) != 0 {
				t.Errorf("%s: folder v%s holds manifest version %s", dir, versionString(st.version), st.manifest.CurrVersion)
			}
			if len(st.statements) == 0 && !st.manifest.AllowNoCqlFiles {
				t.Errorf("%s: version %s has no statements", dir, st.manifest.CurrVersion)
			}
		}
		if last := steps[len(steps)-1].manifest.CurrVersion; last != newest {
			t.Errorf("%s: newest step %s, the server requires %s", dir, last, newest)
		}
	}
	if _, err := schemaSteps(dbschemas.Assets(), "postgresql/v12/nothing"); err == nil {
		t.Error("a missing schema folder gave no error")
	}
}

func TestParseSchemaVersion(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		cmp  int
	}{
		{"1.10", "1.9", 1}, {"v1.2", "1.2", 0}, {"1.2", "1.2.0", 0}, {"0.0", "1.0", -1}, {"2", "1.99", 1},
	} {
		a, err := parseSchemaVersion(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseSchemaVersion(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.compare(b); (got > 0) != (tc.cmp > 0) || (got < 0) != (tc.cmp < 0) {
			t.Errorf("compare(%s, %s) = %d, want sign of %d", tc.a, tc.b, got, tc.cmp)
		}
	}
	for _, bad := range []string{"", "1.x", "1..2", "-1.0", "v"} {
		if _, err := parseSchemaVersion(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestLastLogError(t *testing.T) {
	for log, want := range map[string]string{
		"time=x level=ERROR msg=\"a\" error=\"dial tcp: refused\" other=1\n": "dial tcp: refused",
		"level=ERROR msg=b error=plain\n":                                    "plain",
		"level=ERROR msg=c\n":                                                "",
		"":                                                                   "",
	} {
		if got := lastLogError(log); got != want {
			t.Errorf("lastLogError(%q) = %q, want %q", log, got, want)
		}
	}
}
