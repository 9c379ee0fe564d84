package script

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"time"
)

// drainGrace is how long the combined output is still read after the
// process group was killed. Killed processes close their end at once; the
// grace only matters when a process that left the group keeps it open.
const drainGrace = time.Second

// outcome is what one process run produced.
type outcome struct {
	output   string
	state    *os.ProcessState // nil when the process never started
	err      error            // exit, signal or start error
	duration time.Duration
}

// exitCode returns the exit code to report: the process's own, -1 when a
// signal ended it, 1 when it never started.
func (o *outcome) exitCode() int {
	if o.state == nil {
		return 1
	}
	return o.state.ExitCode()
}

// spawn describes one process to run.
type spawn struct {
	dir   string
	path  string // relative to dir
	args  []string
	env   []string
	stdin string
}

// run starts the process, feeds its standard input, collects stdout and
// stderr into one text and waits for it to exit and for its output to
// close. When ctx is done first, the whole process group is killed.
func (s *spawn) run(ctx context.Context) outcome {
	started := time.Now()
	if err := ctx.Err(); err != nil {
		return outcome{err: err, duration: time.Since(started)}
	}

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return outcome{err: err, duration: time.Since(started)}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return outcome{err: err, duration: time.Since(started)}
	}

	// The standard streams are files, so exec starts no copying goroutine
	// of its own and Wait returns as soon as the process is reaped.
	cmd := &exec.Cmd{
		Path:        s.path,
		Args:        append([]string{s.path}, s.args...),
		Dir:         s.dir,
		Env:         s.env,
		Stdin:       stdinR,
		Stdout:      outW,
		Stderr:      outW,
		SysProcAttr: sysProcAttr(),
	}
	err = cmd.Start()
	_ = stdinR.Close()
	_ = outW.Close()
	if err != nil {
		_ = stdinW.Close()
		_ = outR.Close()
		return outcome{err: err, duration: time.Since(started)}
	}

	fed := make(chan struct{})
	go func() {
		defer close(fed)
		_, _ = io.WriteString(stdinW, s.stdin) // a script may not read it all
		_ = stdinW.Close()
	}()

	// TODO: the combined output is kept whole in memory, so a script that
	// prints without end exhausts it; a cap, with the truncation noted in
	// the metadata, would bound it.
	var out bytes.Buffer
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = out.ReadFrom(outR) // stops at EOF or at the drain deadline
	}()

	w := watchExit(cmd)
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = killGroup(cmd.Process)
		}
	}

	select {
	case <-w.exited:
	case <-ctx.Done():
		kill()
		<-w.exited
	}
	duration := time.Since(started)

	// Processes the script left behind may still hold the output open;
	// they delay completion up to the deadline, then die with the group.
	// The leader is not reaped yet, so its process group id cannot have
	// been reused by then.
	select {
	case <-drained:
	case <-ctx.Done():
		kill()
		_ = outR.SetReadDeadline(time.Now().Add(drainGrace))
		<-drained
	}

	err = w.reap()
	_ = stdinW.Close() // unblocks the feeder if nobody reads any more
	<-fed
	_ = outR.Close()
	return outcome{output: out.String(), state: cmd.ProcessState, err: err, duration: duration}
}

// exitWatch observes the exit of a started command.
type exitWatch struct {
	cmd    *exec.Cmd
	exited chan struct{}
	reaped bool  // the watcher had to reap the process itself
	err    error // cmd.Wait's error when reaped is true
}

// watchExit starts waiting for cmd's process to exit. Where the platform
// allows it, the process is left unreaped until reap is called, which
// keeps its pid and process group id from being reused meanwhile.
func watchExit(cmd *exec.Cmd) *exitWatch {
	w := &exitWatch{cmd: cmd, exited: make(chan struct{})}
	go func() {
		defer close(w.exited)
		if err := awaitExit(cmd.Process.Pid); err != nil {
			w.reaped = true
			w.err = cmd.Wait()
		}
	}()
	return w
}

// reap collects the exit status once exited is closed and returns the
// error of exec.Cmd.Wait.
func (w *exitWatch) reap() error {
	<-w.exited
	if w.reaped {
		return w.err
	}
	return w.cmd.Wait() //nolint:wrapcheck // the process error text is reported as is
}
