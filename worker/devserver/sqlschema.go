package devserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	"go.temporal.io/server/common/resolver"
	dbschemas "go.temporal.io/server/schema"
)

// Schema directories inside the server module's embedded schema files.
const (
	postgresSchema           = "postgresql/v12/temporal"
	postgresVisibilitySchema = "postgresql/v12/visibility"
)

// schemaVersion is a dotted version such as "1.19", compared number by
// number.
type schemaVersion []int

func parseSchemaVersion(s string) (schemaVersion, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if s == "" {
		return nil, errors.New("empty schema version")
	}
	var v schemaVersion
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("schema version %q is not numbers separated by dots", s)
		}
		v = append(v, n)
	}
	return v, nil
}

func (v schemaVersion) compare(o schemaVersion) int {
	for i := range max(len(v), len(o)) {
		a, b := 0, 0
		if i < len(v) {
			a = v[i]
		}
		if i < len(o) {
			b = o[i]
		}
		if a != b {
			return a - b
		}
	}
	return 0
}

// schemaStep is one directory of versioned schema changes.
type schemaStep struct {
	version  schemaVersion
	manifest struct {
		CurrVersion          string
		MinCompatibleVersion string
		Description          string
		SchemaUpdateCqlFiles []string
		// AllowNoCqlFiles marks a version that only changes what the
		// server does with the schema.
		AllowNoCqlFiles bool
	}
	statements []string
}

// schemaSteps reads the versioned changes of an embedded schema (for example
// "postgresql/v12/temporal"), oldest first.
func schemaSteps(fsys fs.FS, schemaDir string) ([]schemaStep, error) {
	dir := path.Join(schemaDir, "versioned")
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading schema %s: %w", schemaDir, err)
	}
	var steps []schemaStep
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "v") {
			continue
		}
		var st schemaStep
		if st.version, err = parseSchemaVersion(e.Name()); err != nil {
			return nil, fmt.Errorf("schema %s: %w", dir, err)
		}
		m, err := fs.ReadFile(fsys, path.Join(dir, e.Name(), "manifest.json"))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", dir, err)
		}
		if err := json.Unmarshal(m, &st.manifest); err != nil {
			return nil, fmt.Errorf("schema %s/%s/manifest.json: %w", dir, e.Name(), err)
		}
		for _, f := range st.manifest.SchemaUpdateCqlFiles {
			b, err := fs.ReadFile(fsys, path.Join(dir, e.Name(), f))
			if err != nil {
				return nil, fmt.Errorf("schema %s: %w", dir, err)
			}
			stmts, err := persistence.LoadAndSplitQueryFromReaders([]io.Reader{bytes.NewReader(b)})
			if err != nil {
				return nil, fmt.Errorf("schema %s/%s/%s: %w", dir, e.Name(), f, err)
			}
			st.statements = append(st.statements, stmts...)
		}
		steps = append(steps, st)
	}
	slices.SortFunc(steps, func(a, b schemaStep) int { return a.version.compare(b.version) })
	if len(steps) == 0 {
		return nil, fmt.Errorf("schema %s has no versions", dir)
	}
	return steps, nil
}

// SetupSQLSchema brings the database conf names to the newest schema of
// schemaDir, the way Temporal's SQL tool does with `create`, `setup-schema
// -v 0.0` and `update-schema`: it creates the database when missing
// (connecting to defaultDB for that), the version tables, and applies every
// versioned change newer than the version the database records. A database
// already at the newest version is left alone, so it is safe at every start
// and upgrades a database made by an older server.
func SetupSQLSchema(conf *config.SQL, defaultDB, schemaDir string) (applied []string, err error) {
	steps, err := schemaSteps(dbschemas.Assets(), schemaDir)
	if err != nil {
		return nil, err
	}
	// The plugin logs why a connection failed and returns only "no usable
	// database connection found"; the log gives the user the reason.
	var reasons bytes.Buffer
	logger := &serverLogger{log: slog.New(slog.NewTextHandler(&reasons, &slog.HandlerOptions{Level: slog.LevelError})), level: new(slog.LevelVar)}
	explain := func(err error) error {
		if msg := lastLogError(reasons.String()); msg != "" && !strings.Contains(err.Error(), msg) {
			return fmt.Errorf("%w (%s)", err, msg)
		}
		return err
	}
	if defaultDB != "" {
		admin := *conf
		admin.DatabaseName = defaultDB
		db, err := sql.NewSQLAdminDB(sqlplugin.DbKindUnknown, &admin, resolver.NewNoopResolver(), logger, metrics.NoopMetricsHandler)
		if err != nil {
			return nil, fmt.Errorf("connecting to database %q at %s: %w", defaultDB, conf.ConnectAddr, explain(err))
		}
		err = db.CreateDatabase(conf.DatabaseName)
		db.Close()
		if err != nil {
			return nil, fmt.Errorf("creating database %q at %s: %w", conf.DatabaseName, conf.ConnectAddr, explain(err))
		}
	}
	db, err := sql.NewSQLAdminDB(sqlplugin.DbKindUnknown, conf, resolver.NewNoopResolver(), logger, metrics.NoopMetricsHandler)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %q at %s: %w", conf.DatabaseName, conf.ConnectAddr, explain(err))
	}
	defer db.Close()
	if err := db.CreateSchemaVersionTables(); err != nil {
		return nil, fmt.Errorf("creating the schema version tables in %q at %s: %w", conf.DatabaseName, conf.ConnectAddr, explain(err))
	}
	current := schemaVersion{0, 0}
	if s, err := db.ReadSchemaVersion(conf.DatabaseName); err == nil && s != "" {
		if current, err = parseSchemaVersion(s); err != nil {
			return nil, fmt.Errorf("database %q: %w", conf.DatabaseName, err)
		}
	}
	if newest := steps[len(steps)-1].version; current.compare(newest) > 0 {
		return nil, fmt.Errorf("database %q has schema version %s, newer than %s that this server knows: it was set up by a newer Temporal server",
			conf.DatabaseName, versionString(current), versionString(newest))
	}
	for _, st := range steps {
		if st.version.compare(current) <= 0 {
			continue
		}
		for _, stmt := range st.statements {
			if err := db.Exec(stmt); err != nil {
				return applied, fmt.Errorf("applying schema %s version %s to %q: %w", schemaDir, st.manifest.CurrVersion, conf.DatabaseName, err)
			}
		}
		if err := db.UpdateSchemaVersion(conf.DatabaseName, st.manifest.CurrVersion, st.manifest.MinCompatibleVersion); err != nil {
			return applied, fmt.Errorf("recording schema version %s in %q: %w", st.manifest.CurrVersion, conf.DatabaseName, err)
		}
		if err := db.WriteSchemaUpdateLog(versionString(current), st.manifest.CurrVersion, "", st.manifest.Description); err != nil {
			return applied, fmt.Errorf("recording schema version %s in %q: %w", st.manifest.CurrVersion, conf.DatabaseName, err)
		}
		current = st.version
		applied = append(applied, st.manifest.CurrVersion)
	}
	return applied, nil
}

func versionString(v schemaVersion) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ".")
}

// lastLogError is the error attribute of the last line of a text log.
func lastLogError(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	m := logErrorAttr.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		return ""
	}
	if unq, err := strconv.Unquote(m[1]); err == nil {
		return unq
	}
	return m[1]
}

var logErrorAttr = regexp.MustCompile(`\berror=("(?:[^"\\]|\\.)*"|\S+)`)
