package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/utask/utask/server"
)

// runMigrate applies (up) or lists (status) the migrations of the store the
// configuration names, as the server would open it.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "up" && args[0] != "status") {
		fmt.Fprintln(stderr, "usage: utask migrate up|status")
		return 2
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(stderr, "utask:", err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ms, err := server.Migrate(ctx, server.Options{Environ: os.Environ(), WorkDir: wd, Logger: logger}, args[0] == "up")
	if err != nil {
		fmt.Fprintln(stderr, "utask migrate:", err)
		return 1
	}
	pending := 0
	for _, m := range ms {
		at := "pending"
		if m.Applied != nil {
			at = "applied " + m.Applied.Format(time.RFC3339)
		} else {
			pending++
		}
		fmt.Fprintf(stdout, "%04d %-24s %s\n", m.Version, m.Name, at)
	}
	if args[0] == "status" && pending > 0 {
		return 3
	}
	return 0
}
