package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/server"
	"github.com/utask/utask/state"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// inputFlags collects repeated name=value flags.
type inputFlags map[string][]string

func (f inputFlags) String() string { return "" }

func (f inputFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q: expected name=value", s)
	}
	f[name] = append(f[name], value)
	return nil
}

// runValidate lints templates and functions offline: every error, each with
// its file.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("utask validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	functions := fs.String("functions-path", "./functions", "directory of the functions templates may use")
	scripts := fs.String("scripts-path", "./scripts", "directory of the script action's files")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: utask validate [--functions-path DIR] PATH...\n\nPATH is a template file or a directory of *.yaml templates.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	registry, err := server.OfflineActions(*scripts)
	if err != nil {
		fmt.Fprintln(stderr, "utask:", err)
		return 1
	}
	fns, err := template.LoadFunctions(*functions, registry)
	failed := false
	if err != nil {
		fmt.Fprintln(stdout, err)
		failed = true
	}
	catalog := &template.Catalog{Actions: registry, Functions: fns, Templates: map[string]bool{}, Syntax: values.NewCache(1024).Check}
	var dirs, files []string
	for _, p := range fs.Args() {
		info, err := os.Stat(p)
		if err != nil {
			fmt.Fprintln(stdout, err)
			failed = true
			continue
		}
		if info.IsDir() {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
	}
	count := 0
	if len(dirs) > 0 {
		tmpls, err := template.LoadDirs(dirs, catalog)
		count += len(tmpls)
		if err != nil {
			fmt.Fprintln(stdout, err)
			failed = true
		}
		for _, d := range dirs {
			matches, _ := filepath.Glob(filepath.Join(d, "*.yaml"))
			for _, m := range matches {
				printWarnings(stdout, m)
			}
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stdout, err)
			failed = true
			continue
		}
		t, err := template.Parse(data)
		if err == nil {
			catalog.Templates[t.Name] = true
			err = template.Validate(t, catalog)
		}
		printWarnings(stdout, f)
		if err != nil {
			fmt.Fprintf(stdout, "template %s: %v\n", f, err)
			failed = true
			continue
		}
		count++
	}
	if failed {
		return 1
	}
	fmt.Fprintf(stdout, "%d template(s) valid\n", count)
	return 0
}

func printWarnings(w io.Writer, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	for _, k := range template.Warnings(data) {
		fmt.Fprintf(w, "warning: template %s: unknown key %s (ignored)\n", file, k)
	}
}

// runLocal runs one template locally, printing each step's state as it
// changes and the result; nothing is kept.
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("utask run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	inputs := inputFlags{}
	resolverInputs := inputFlags{}
	fs.Var(inputs, "input", "an input as name=value (repeat for each input, or for each item of a collection)")
	fs.Var(resolverInputs, "resolver-input", "a resolver input as name=value")
	functions := fs.String("functions-path", "./functions", "directory of the functions the template may use")
	scripts := fs.String("scripts-path", "./scripts", "directory of the script action's files")
	retries := fs.Int("retries", 0, "cycles to run again at once while the resolution ends in ERROR")
	debug := fs.Bool("debug", false, "print the engine's debug logs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: utask run [flags] TEMPLATE.yaml\n\nRuns the template once in this process, on a throwaway store.")
		fs.PrintDefaults()
	}
	// Flags may come before or after the template file.
	var file string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			fmt.Fprintln(stderr, "utask run: one template at a time")
			return 2
		}
		file = fs.Arg(0)
		rest = fs.Args()[1:]
	}
	if file == "" {
		fs.Usage()
		return 2
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	res, err := server.RunLocal(ctx, server.LocalOptions{
		Template:      file,
		FunctionsPath: *functions,
		ScriptsPath:   *scripts,
		Input:         inputs,
		ResolverInput: resolverInputs,
		Retries:       *retries,
		Logger:        logger,
		Events: func(ev engine.Event) {
			switch {
			case ev.Step == "":
				fmt.Fprintf(stdout, "resolution %s\n", ev.State)
			case ev.Error != "":
				fmt.Fprintf(stdout, "step %s %s: %s\n", ev.Step, ev.State, ev.Error)
			default:
				fmt.Fprintf(stdout, "step %s %s\n", ev.Step, ev.State)
			}
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "utask run:", err)
		return 1
	}
	names := make([]string, 0, len(res.Steps))
	for n := range res.Steps {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]any{"state": res.State, "result": res.Result}
	outputs := map[string]any{}
	for _, n := range names {
		outputs[n] = map[string]any{"state": res.Steps[n].State, "output": res.Steps[n].Output}
	}
	out["steps"] = outputs
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "utask run:", err)
		return 1
	}
	if res.State != state.ResDone {
		return 1
	}
	return 0
}
