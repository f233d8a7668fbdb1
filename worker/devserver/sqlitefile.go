package devserver

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// The SQLite driver ("sqlite", modernc.org/sqlite) is registered by the
// server's SQLite persistence plugin, which this package imports.
const sqliteDriver = "sqlite"

// maxIntegrityProblems caps the problems an integrity check lists.
const maxIntegrityProblems = 5

// whatToDo is the advice of every refusal of a database file.
const whatToDo = "move it aside with its -wal and -shm files and start again with an empty state, " +
	"or restore a copy saved as docs/deploy.md (\"outflow dev's state\") describes"

// checkDBFile looks at a state file before the server uses it and reports
// whether it was missing (the server creates it). It refuses a file that
// cannot hold a server's state: an empty one, which SQLite would silently
// turn into a new database and so lose every execution and schedule the
// user expects in it, and one that fails SQLite's quick integrity check,
// with which the server would start and then fail every call.
func checkDBFile(path string) (missing bool, err error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("database %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return false, fmt.Errorf("database %s is not a regular file", path)
	}
	if info.Size() == 0 && walSize(path) == 0 {
		return false, fmt.Errorf("database %s is empty (0 bytes): it holds no server state, not even the schema. "+
			"If it should hold your executions and schedules, it was truncated or copied while being written: restore a copy. "+
			"To start with an empty state, delete the file", path)
	}
	problems, err := quickCheck(path)
	if err != nil {
		return false, fmt.Errorf("database %s is damaged or not an SQLite database (SQLite says: %v): %s", path, err, whatToDo)
	}
	if len(problems) > 0 {
		return false, fmt.Errorf("database %s is damaged (SQLite's integrity check found: %s); the server would start on it and then fail every call: %s",
			path, strings.Join(problems, "; "), whatToDo)
	}
	return false, nil
}

// walSize is the size of a database's write-ahead log, 0 when it has none.
func walSize(path string) int64 {
	info, err := os.Stat(path + "-wal")
	if err != nil {
		return 0
	}
	return info.Size()
}

// openSQLite opens a connection of its own to a database file that exists.
func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open(sqliteDriver, "file:"+path+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// quickCheck runs SQLite's quick_check, which reads every page of the
// database (through its write-ahead log) and checks its structure, in
// seconds for a database of hundreds of megabytes. It returns the problems
// found, none when the database is sound.
func quickCheck(path string) ([]string, error) {
	db, err := openSQLite(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(fmt.Sprintf("PRAGMA quick_check(%d)", maxIntegrityProblems))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, strings.TrimSpace(line))
		}
	}
	return problems, rows.Err()
}

// checkpointWAL copies what the write-ahead log holds into the database
// file and empties the log, so that the database file alone holds the whole
// state: a copy of it, or a log lost on the way, loses nothing. The server's
// own connection stays open for the life of the process (the SQLite
// persistence plugin keeps it), so SQLite never does this itself on close.
func checkpointWAL(path string) error {
	db, err := openSQLite(path)
	if err != nil {
		return fmt.Errorf("checkpointing the write-ahead log of %s: %w", path, err)
	}
	defer db.Close()
	var busy, frames, copied int
	if err := db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("checkpointing the write-ahead log of %s: %w", path, err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpointing the write-ahead log of %s: the database is still in use; %d of %d pages were copied, and the rest is kept in %s-wal, which must stay with the file", path, copied, frames, path)
	}
	return nil
}
