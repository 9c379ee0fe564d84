package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Priorities given to items that do not carry their own.
const (
	// EnvPriority is the priority of every item of an env provider.
	EnvPriority = 15
	// FilePriority is the priority of every filetree item, and of file and filelist items that have
	// no priority field. It is below EnvPriority, so an environment variable overrides a file.
	FilePriority = 5
)

// errNoArgument is returned for a provider entry without its argument.
var errNoArgument = errors.New("missing argument") //nolint:gochecknoglobals // immutable error value

// LoadStore reads the providers listed in from (the CONFIGURATION_FROM value: comma-separated
// name:argument entries, blank entries skipped) and squashes their items into a Store. environ
// lists the environment as os.Environ does. An empty from gives an empty Store. A provider that
// fails makes LoadStore fail, naming the provider.
//
// Providers:
//   - env:PREFIX: every variable named PREFIX_<key> (the prefix compared without case), priority
//     EnvPriority; a variable with nothing after the underscore is skipped.
//   - file:PATH: a YAML or JSON list of {key, value, priority}; a value that is not a string is
//     kept as its JSON text, and a missing priority is FilePriority.
//   - filelist:DIR: every regular file of DIR, in name order, read as by file.
//   - filetree:DIR: one item per regular file of DIR, key = file name, value = the content without
//     its final line break ("\n" or "\r\n"), since files written by editors and echo end with one
//     that no configuration value wants; priority FilePriority. A sub-directory (one level) gives
//     one item per regular file in it, all keyed by the sub-directory's name; the files' own names
//     and deeper directories are ignored.
//
// Symbolic links are followed and entries whose name starts with "." are skipped (this keeps the
// "..data" links of mounted Kubernetes volumes out). Each name also exists with a "+refresh"
// suffix, loaded once like the plain form.
func LoadStore(from string, environ []string) (*Store, error) {
	s := NewStore()

	for entry := range strings.SplitSeq(from, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}

		items, err := loadProvider(entry, environ)
		if err != nil {
			return nil, fmt.Errorf("load configuration provider %q: %w", entry, err)
		}

		for _, it := range items {
			s.add(it)
		}
	}

	return s, nil
}

// loadProvider returns the items of one name:argument entry.
func loadProvider(entry string, environ []string) ([]Item, error) {
	name, arg, _ := strings.Cut(entry, ":")
	if arg == "" {
		return nil, errNoArgument
	}

	// TODO: the "+refresh" providers are read once at start, so changed files need a restart;
	// watching the files (or polling their modification times) and re-squashing the Store
	// would make them live.
	name = strings.TrimSuffix(name, "+refresh")

	switch name {
	case "env":
		return envItems(arg, environ), nil
	case "file":
		return fileItems(arg)
	case "filelist":
		return fileListItems(arg)
	case "filetree":
		return fileTreeItems(arg)
	default:
		return nil, fmt.Errorf("unknown provider %q (want env, file, filelist or filetree)", name)
	}
}

// envItems returns the items of the environment variables named prefix_<key>.
func envItems(prefix string, environ []string) []Item {
	var items []Item

	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || len(name) <= len(prefix)+1 || name[len(prefix)] != '_' ||
			!strings.EqualFold(name[:len(prefix)], prefix) {
			continue
		}

		items = append(items, Item{Key: name[len(prefix)+1:], Value: value, Priority: EnvPriority})
	}

	return items
}

// fileItem is one entry of an item file.
type fileItem struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Priority *int            `json:"priority"`
}

// fileItems reads an item file.
func fileItems(path string) ([]Item, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read item file: %w", err)
	}

	var entries []fileItem
	if err := yaml.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("parse item file %s: %w", path, err)
	}

	items := make([]Item, 0, len(entries))

	for i, e := range entries {
		if e.Key == "" {
			return nil, fmt.Errorf("parse item file %s: item %d has no key", path, i)
		}

		it := Item{Key: e.Key, Priority: FilePriority}
		if e.Priority != nil {
			it.Priority = *e.Priority
		}

		if len(e.Value) > 0 && !bytes.Equal(e.Value, []byte("null")) {
			if err := json.Unmarshal(e.Value, &it.Value); err != nil {
				it.Value = string(e.Value)
			}
		}

		items = append(items, it)
	}

	return items, nil
}

// fileListItems reads every regular file of dir as an item file.
func fileListItems(dir string) ([]Item, error) {
	files, _, err := listDir(dir)
	if err != nil {
		return nil, err
	}

	var items []Item

	for _, name := range files {
		found, err := fileItems(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}

		items = append(items, found...)
	}

	return items, nil
}

// fileTreeItems reads one item per file of dir and of its direct sub-directories.
func fileTreeItems(dir string) ([]Item, error) {
	files, dirs, err := listDir(dir)
	if err != nil {
		return nil, err
	}

	var items []Item

	for _, name := range files {
		it, err := fileTreeItem(filepath.Join(dir, name), name)
		if err != nil {
			return nil, err
		}

		items = append(items, it)
	}

	for _, sub := range dirs {
		subFiles, _, err := listDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, err
		}

		for _, name := range subFiles {
			it, err := fileTreeItem(filepath.Join(dir, sub, name), sub)
			if err != nil {
				return nil, err
			}

			items = append(items, it)
		}
	}

	return items, nil
}

// fileTreeItem reads path as the item key.
func fileTreeItem(path, key string) (Item, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Item{}, fmt.Errorf("read item: %w", err)
	}

	value := string(data)
	if v, ok := strings.CutSuffix(value, "\n"); ok {
		value = strings.TrimSuffix(v, "\r")
	}

	return Item{Key: key, Value: value, Priority: FilePriority}, nil
}

// listDir returns the names of the regular files and of the directories in dir, each sorted,
// following symbolic links and skipping names that start with ".".
func listDir(dir string) (files, dirs []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read directory: %w", err)
	}

	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}

		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("read directory entry: %w", err)
		}

		switch {
		case fi.Mode().IsRegular():
			files = append(files, e.Name())
		case fi.IsDir():
			dirs = append(dirs, e.Name())
		}
	}

	return files, dirs, nil
}
