// Package script implements the builtin action "script": it runs an
// executable file of the instance's scripts folder as a local process and
// reads the step output from what the process prints.
//
// The process runs as ./<file_path> in the scripts folder, with the
// configured arguments, standard input and extra environment, in a process
// group of its own that is killed as a whole when the timeout expires or
// the run is cancelled. Its stdout and stderr are captured together; the
// output is the JSON object found on the last line or between two
// delimiters. Exit code 0 is a success, a code listed as unrecoverable a
// client error (CLIENT_ERROR) and any other code a server error
// (SERVER_ERROR); output and metadata are returned in every case.
package script

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/internal/procout"
)

// Name is the action type under which script is registered.
const Name = "script"

// DefaultScriptsPath is the scripts folder used when Options.ScriptsPath is
// empty, relative to the working directory of the process.
const DefaultScriptsPath = "scripts"

// Environment variables set for every script, before the configured ones.
const (
	// EnvTaskID holds the public id of the task.
	EnvTaskID = "UTASK_TASK_ID"
	// EnvResolutionID holds the public id of the resolution.
	EnvResolutionID = "UTASK_RESOLUTION_ID"
	// EnvStepName holds the name of the step.
	EnvStepName = "UTASK_STEP_NAME"
)

// Metadata keys of a script step; every value is a string.
const (
	// MetadataExitCode holds the exit code: "-1" when a signal ended the
	// process, "1" when it never started.
	MetadataExitCode = "exit_code"
	// MetadataProcessState holds the process state text, e.g.
	// "exit status 0" or "signal: killed"; "<nil>" if it never started.
	MetadataProcessState = "process_state"
	// MetadataOutput holds the combined stdout and stderr text.
	MetadataOutput = "output"
	// MetadataExecutionTime holds the run time as a Go duration text.
	MetadataExecutionTime = "execution_time"
	// MetadataError holds the process error text, "" on success.
	MetadataError = "error"
)

// Context keys of a script step.
const (
	// ContextTaskID is rendered to the public id of the task.
	ContextTaskID = "task_id"
	// ContextResolutionID is rendered to the public id of the resolution.
	ContextResolutionID = "resolution_id"
)

// Validation errors callers can test with errors.Is.
var (
	// ErrOutsideScripts means file_path names a file outside the scripts
	// folder: an absolute path, a ".." escape or a symbolic link leading
	// out of it (absolute symbolic links included).
	ErrOutsideScripts = errors.New("path is outside the scripts folder")
	// ErrNotExecutable means the script is not a regular file with at least
	// one execute permission bit.
	ErrNotExecutable = errors.New("not an executable file")
)

// Options configures the script action.
type Options struct {
	// ScriptsPath is the base directory of the scripts: file_path is
	// relative to it and scripts run in it. A relative path is made
	// absolute against the working directory when New is called. Defaults
	// to DefaultScriptsPath.
	ScriptsPath string
}

type scriptAction struct {
	dir string
}

// New returns the script action.
func New(opts Options) action.Action {
	dir := cmp.Or(opts.ScriptsPath, DefaultScriptsPath)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &scriptAction{dir: dir}
}

// ValidateConfig checks the raw configuration: the literal fields (timeout,
// output mode and delimiters, unrecoverable exit codes) and that file_path
// names an executable file inside the scripts folder.
func (a *scriptAction) ValidateConfig(base, cfg json.RawMessage) error {
	var c config
	if err := decodeConfig(base, cfg, &c); err != nil {
		return err
	}
	if c.FilePath == "" {
		return errors.New("missing file_path")
	}
	info, err := a.locate(c.FilePath)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("script %q: %w", c.FilePath, ErrNotExecutable)
	}
	_, err = c.compile()
	return err
}

// Context returns the task and resolution ids to render for each run.
func (a *scriptAction) Context(string) map[string]any {
	return map[string]any{
		ContextTaskID:       "{{ .task.task_id }}",
		ContextResolutionID: "{{ .task.resolution_id }}",
	}
}

// Run executes the script described by the templated configuration and
// returns when it has exited and closed its output, when the timeout has
// expired or when ctx is done (the process group is then killed).
func (a *scriptAction) Run(ctx context.Context, req action.Request) action.Result {
	var c config
	if err := decodeConfig(req.BaseConfig, req.Config, &c); err != nil {
		return action.Result{Err: err}
	}
	p, err := c.compile()
	if err != nil {
		return action.Result{Err: err}
	}
	logger := req.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	runCtx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	// A refused file is handled like one that cannot be started. Other
	// lookup errors are left to the start, which reports them itself.
	//
	// TODO: the file is checked and then started by name, so a symbolic
	// link swapped in between escapes the check; starting it from a
	// descriptor opened inside the root (execveat) would close the gap,
	// at the cost of the "./<file_path>" name interpreted scripts see as $0.
	var o outcome
	switch _, err := a.locate(c.FilePath); {
	case c.FilePath == "":
		o = outcome{err: errors.New("missing file_path")}
	case errors.Is(err, ErrOutsideScripts):
		o = outcome{err: err}
	default:
		s := &spawn{
			dir:   a.dir,
			path:  "./" + filepath.ToSlash(c.FilePath),
			args:  c.Argv,
			env:   environment(req, &c),
			stdin: c.Stdin,
		}
		o = s.run(runCtx)
	}

	logger.DebugContext(ctx, "script: process ended",
		slog.String("file_path", c.FilePath),
		slog.Int("exit_code", o.exitCode()),
		slog.Duration("execution_time", o.duration),
		slog.Int("output_bytes", len(o.output)))

	return result(p, &o)
}

// Resources returns "fork" and "script:<file_path>", or nothing when the
// configuration does not decode.
func (a *scriptAction) Resources(base, cfg json.RawMessage) []string {
	var c config
	if err := decodeConfig(base, cfg, &c); err != nil {
		return nil
	}
	return []string{"fork", "script:" + c.FilePath}
}

// locate stats file_path inside the scripts folder, following symbolic
// links only as long as they stay inside it.
func (a *scriptAction) locate(name string) (fs.FileInfo, error) {
	if !filepath.IsLocal(name) {
		return nil, fmt.Errorf("script %q: %w", name, ErrOutsideScripts)
	}
	root, err := os.OpenRoot(a.dir)
	if err != nil {
		return nil, fmt.Errorf("open scripts folder: %w", err)
	}
	defer func() { _ = root.Close() }()

	info, err := root.Stat(name)
	if err != nil {
		// The root refuses escapes with an error of its own; the same
		// path reached without the root tells them from missing files.
		if _, plainErr := os.Stat(filepath.Join(a.dir, name)); plainErr == nil {
			return nil, fmt.Errorf("script %q: %w", name, ErrOutsideScripts)
		}
		return nil, fmt.Errorf("stat script: %w", err)
	}
	return info, nil
}

// environment returns the process environment plus the UTASK_* variables
// and the configured entries, later entries overriding earlier ones.
func environment(req action.Request, c *config) []string {
	env := os.Environ()
	env = append(env,
		EnvTaskID+"="+contextString(req.Context, ContextTaskID),
		EnvResolutionID+"="+contextString(req.Context, ContextResolutionID),
		EnvStepName+"="+req.StepName,
	)
	keys := make([]string, 0, len(c.Environment))
	for k := range c.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+fmt.Sprintf("%v", c.Environment[k]))
	}
	return env
}

// contextString returns the rendered context value of key as text.
func contextString(ctx map[string]any, key string) string {
	v, ok := ctx[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprintf("%v", v)
}

// result turns a process outcome into the step result.
func result(p *plan, o *outcome) action.Result {
	code := o.exitCode()
	errText := ""
	if o.err != nil {
		errText = o.err.Error()
	}
	metadata := map[string]any{
		MetadataExitCode:      strconv.Itoa(code),
		MetadataProcessState:  o.state.String(),
		MetadataOutput:        o.output,
		MetadataExecutionTime: o.duration.String(),
		MetadataError:         errText,
	}

	output, parseErr := procout.ParseObject(p.candidate(o.output))
	if code == 0 {
		if parseErr != nil {
			return action.Result{Metadata: metadata, Err: fmt.Errorf("decode output as a JSON object: %w", parseErr)}
		}
		return action.Result{Output: output, Metadata: metadata}
	}

	if parseErr != nil {
		output = map[string]any{} // the exit code says more than the text
	}
	res := action.Result{Output: output, Metadata: metadata}
	if p.unrecoverable(code) {
		// The capitalised prefix is part of the step error text users match.
		res.Err = action.ClientError(fmt.Errorf("Client error: exit code: %d", code)) //nolint:staticcheck,revive // see above
	} else {
		res.Err = fmt.Errorf("exit code: %d", code)
	}
	return res
}
