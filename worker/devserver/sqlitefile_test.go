package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func greetRuns(t *testing.T, s *Server, n int) []string {
	t.Helper()
	c := dial(t, s, nil)
	w := runWorker(t, c, "q")
	defer w.Stop()
	var ids []string
	for range n {
		ids = append(ids, runGreet(t, c, "q", temporal.SearchAttributes{}).GetID())
	}
	return ids
}

// TestStateFile follows a state file through graceful stops, a move, a
// crash image with a damaged page, and files that hold no state.
func TestStateFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "dev.sqlite")

	// A graceful stop leaves nothing in the write-ahead log: the database
	// file alone is the state.
	s := startServer(t, Options{DBPath: db})
	ids := greetRuns(t, s, 3)
	walRunning := fileSize(t, db+"-wal")
	stopServer(t, s)
	if n := fileSize(t, db+"-wal"); n != 0 {
		t.Errorf("after a graceful stop the write-ahead log holds %d bytes (%d while running)", n, walRunning)
	}
	t.Logf("write-ahead log: %d bytes while running, 0 after Stop; database %d bytes", walRunning, fileSize(t, db))

	// So the file can be moved alone, and every execution comes with it.
	moved := filepath.Join(t.TempDir(), "moved", "dev.sqlite")
	copyFile(t, db, moved)
	s = startServer(t, Options{DBPath: moved})
	c := dial(t, s, nil)
	for _, id := range ids {
		desc, err := c.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			t.Errorf("execution %s in the moved file: %v %v", id, desc.GetWorkflowExecutionInfo().GetStatus(), err)
		}
	}
	stopServer(t, s)

	// A crash image: the file and its log copied while the server runs.
	// One page of the file that the log does not hold is damaged: the
	// root of the history table, which the server reads only when asked
	// for a history, so it would start on the file and then fail those
	// calls. Start refuses it.
	s = startServer(t, Options{DBPath: db})
	crash := filepath.Join(t.TempDir(), "dev.sqlite")
	if fileSize(t, db+"-wal") == 0 {
		t.Fatal("the running server's write-ahead log is empty")
	}
	copyFile(t, db, crash)
	copyFile(t, db+"-wal", crash+"-wal")
	stopServer(t, s)
	page, size := historyRootPage(t, db)
	f, err := os.OpenFile(crash, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", size)), (page-1)*int64(size)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, err = Start(context.Background(), Options{DBPath: crash, Logger: testLogger(t)})
	if err == nil {
		s.Stop()
	}
	if err == nil || !strings.Contains(err.Error(), crash+" is damaged") || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("Start on a damaged file: %v, want a refusal saying what to do", err)
	}
	t.Logf("damaged file: %v", err)
}

// historyRootPage returns the root page of the history table of a
// database no server uses, and the page size.
func historyRootPage(t *testing.T, path string) (page int64, size int) {
	t.Helper()
	db, err := openSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("SELECT rootpage FROM sqlite_master WHERE name = 'history_node'").Scan(&page); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA page_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	return page, size
}

func TestStartRefusesFilesWithoutState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.sqlite")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	notSQLite := filepath.Join(dir, "notes.sqlite")
	if err := os.WriteFile(notSQLite, []byte(strings.Repeat("these are my notes, not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{empty, []string{"is empty (0 bytes)", "restore a copy", "delete the file"}},
		{notSQLite, []string{"not an SQLite database", "file is not a database", "move it aside"}},
	} {
		_, err := Start(context.Background(), Options{DBPath: tc.path, Logger: testLogger(t)})
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Start on %s: %v, want an error saying %q", filepath.Base(tc.path), err, w)
			}
		}
		if _, serr := os.Stat(tc.path); serr != nil {
			t.Errorf("the refused file %s is gone: %v", tc.path, serr)
		}
	}

	// A file Start creates and then fails to use (the port is taken) is
	// removed again, so the next Start does not take it for a truncated one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fresh := filepath.Join(dir, "fresh.sqlite")
	if _, err := Start(context.Background(), Options{DBPath: fresh, Port: l.Addr().(*net.TCPAddr).Port, Logger: testLogger(t)}); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("the file a failed Start created is left behind: %v", err)
	}
}

// BenchmarkQuickCheck measures the start-time check on a state file of
// about 100 MB: go test ./worker/devserver -run '^$' -bench QuickCheck -benchtime 5x
func BenchmarkQuickCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.sqlite")
	db, err := sql.Open(sqliteDriver, "file:"+path+"?_pragma=journal_mode(wal)")
	if err != nil {
		b.Fatal(err)
	}
	for _, stmt := range []string{"CREATE TABLE h (id INTEGER PRIMARY KEY, k TEXT, v BLOB)", "CREATE INDEX hk ON h(k)"} {
		if _, err := db.Exec(stmt); err != nil {
			b.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	blob := []byte(strings.Repeat("x", 2000))
	for i := range 50000 {
		if _, err := tx.Exec("INSERT INTO h (k, v) VALUES (?, ?)", fmt.Sprintf("key-%d", i%977), blob); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	db.Close()
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if problems, err := quickCheck(path); err != nil || len(problems) > 0 {
			b.Fatal(problems, err)
		}
	}
	b.ReportMetric(float64(info.Size())/(1<<20), "MB")
}
