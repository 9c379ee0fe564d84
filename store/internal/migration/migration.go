// Package migration reads the schema changes a store embeds and reports
// which of them a database has. Each store keeps its own files, the SQL that
// records them and the transactions that apply them.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/utask/utask/store"
)

// Migration is one schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load returns the migrations in the directory dir of fsys, in order. Each
// file is named NNNN_name.sql, and their numbers must run 1, 2, 3... without
// a gap or a repeat.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries { // ReadDir sorts by name, hence by number
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || name == "" {
			return nil, fmt.Errorf("read migrations: %s is not named NNNN_name.sql", e.Name())
		}
		if want := len(ms) + 1; version != want {
			return nil, fmt.Errorf("read migrations: %s has number %d, want %d", e.Name(), version, want)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migrations: %w", err)
		}
		ms = append(ms, Migration{Version: version, Name: name, SQL: string(body)})
	}
	return ms, nil
}

// CheckLatest refuses a database whose latest recorded migration is one the
// program does not know (made by a newer version), ms being the program's.
func CheckLatest(latest int, ms []Migration) error {
	if latest > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this program's (%d): run a newer utask",
			latest, len(ms))
	}
	return nil
}

// ApplyError is the error of applying m.
func ApplyError(m Migration, err error) error {
	return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
}

// Status lists ms with the time each was applied, from applied (by version;
// a missing one is not applied).
func Status(ms []Migration, applied map[int]time.Time) []store.Migration {
	out := make([]store.Migration, 0, len(ms))
	for _, m := range ms {
		mi := store.Migration{Version: m.Version, Name: m.Name}
		if at, ok := applied[m.Version]; ok {
			mi.Applied = &at
		}
		out = append(out, mi)
	}
	return out
}
