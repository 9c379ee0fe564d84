// Command utask runs the utask automation engine: its HTTP API, its engine
// and its embedded store.
//
//	utask [flags]                  serve (the default)
//	utask validate PATH...         lint templates offline
//	utask run TEMPLATE --input k=v run one template locally, nothing kept
//	utask migrate up|status        apply or list the store's migrations
//	utask version                  print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
)

// Version and Commit are set at link time (-ldflags "-X main.Version=…").
var (
	Version = "dev"     //nolint:gochecknoglobals // set by the linker
	Commit  = "unknown" //nolint:gochecknoglobals // set by the linker
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintf(stdout, "utask\nVersion: %s\nCommit: %s\n", Version, Commit)
			return 0
		case "serve":
			args = args[1:]
		case "validate":
			return runValidate(args[1:], stdout, stderr)
		case "run":
			return runLocal(ctx, args[1:], stdout, stderr)
		case "migrate":
			return runMigrate(ctx, args[1:], stdout, stderr)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(stderr, "utask:", err)
		return 1
	}
	flags, err := config.ParseFlags("utask", args, os.Getenv, wd)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, config.FlagsUsage("utask"))
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "utask:", err)
		return 2
	}
	log, err := config.NewLogger(stdout, flags.LogsFormat, flags.Debug)
	if err != nil {
		fmt.Fprintln(stderr, "utask:", err)
		return 2
	}
	srv, err := server.Start(ctx, server.Options{Flags: flags, Environ: os.Environ(), WorkDir: wd, Logger: log, Version: Version, Commit: Commit})
	if err != nil {
		log.Error("unable to start utask", "err", err)
		return 1
	}
	if err := srv.Wait(ctx); err != nil {
		log.Error("serve", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Stop(sctx); err != nil {
		log.Error("stop", "err", err)
		return 1
	}
	return 0
}
