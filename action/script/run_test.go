package script_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/script"
)

func TestRunHelloWorld(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "hello-world.sh", `echo "Hello world script"
echo "{\"dumb_string\":\"Hello $1!\",\"random_object\":{\"foo\":\"bar\"}}"`)

	res := b.run(context.Background(), t, nil, obj{"file_path": "hello-world.sh", "argv": []string{"world"}})
	require.NoError(t, res.Err)
	require.Equal(t, map[string]any{
		"dumb_string":   "Hello world!",
		"random_object": map[string]any{"foo": "bar"},
	}, res.Output)
	meta := metadata(t, res)
	delete(meta, script.MetadataExecutionTime)
	require.Equal(t, map[string]string{
		"exit_code":     "0",
		"process_state": "exit status 0",
		"output":        "Hello world script\n{\"dumb_string\":\"Hello world!\",\"random_object\":{\"foo\":\"bar\"}}\n",
		"error":         "",
	}, meta)
	require.Nil(t, res.Tags)
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "exit.sh", `printf '%s' "$OUT"
exit "$CODE"`)
	b.shell(t, "signal.sh", `echo '{"before":"signal"}'
kill -TERM $$`)

	tests := []struct {
		name        string
		file        string
		code        string
		out         string
		unrecovered []string
		wantOutput  any
		wantErr     string
		wantKind    action.Kind
		wantCode    string
		wantState   string
	}{
		{name: "Zero", code: "0", wantOutput: obj{}, wantCode: "0", wantState: "exit status 0"},
		{name: "ZeroListedAsUnrecoverable", code: "0", unrecovered: []string{"0"}, wantOutput: obj{}, wantCode: "0", wantState: "exit status 0"},
		{name: "NonZero", code: "3", wantOutput: obj{}, wantErr: "exit code: 3", wantKind: action.KindServer, wantCode: "3", wantState: "exit status 3"},
		{name: "Highest", code: "255", wantOutput: obj{}, wantErr: "exit code: 255", wantKind: action.KindServer, wantCode: "255", wantState: "exit status 255"},
		{
			name: "OutputKeptOnFailure", code: "4", out: "{\"partial\": true}\n",
			wantOutput: obj{"partial": true}, wantErr: "exit code: 4", wantKind: action.KindServer, wantCode: "4", wantState: "exit status 4",
		},
		{
			name: "BadJSONIgnoredOnFailure", code: "5", out: "not json\n",
			wantOutput: obj{}, wantErr: "exit code: 5", wantKind: action.KindServer, wantCode: "5", wantState: "exit status 5",
		},
		{
			name: "UnrecoverableSingle", code: "2", unrecovered: []string{"2", "10-19"},
			wantOutput: obj{}, wantErr: "Client error: exit code: 2", wantKind: action.KindClient, wantCode: "2", wantState: "exit status 2",
		},
		{
			name: "UnrecoverableRangeStart", code: "10", unrecovered: []string{"2", "10-19"},
			wantOutput: obj{}, wantErr: "Client error: exit code: 10", wantKind: action.KindClient, wantCode: "10", wantState: "exit status 10",
		},
		{
			name: "UnrecoverableRangeEnd", code: "19", unrecovered: []string{"2", "10-19"}, out: "{\"k\": \"v\"}",
			wantOutput: obj{"k": "v"}, wantErr: "Client error: exit code: 19", wantKind: action.KindClient, wantCode: "19", wantState: "exit status 19",
		},
		{
			name: "BelowRange", code: "9", unrecovered: []string{"2", "10-19"},
			wantOutput: obj{}, wantErr: "exit code: 9", wantKind: action.KindServer, wantCode: "9", wantState: "exit status 9",
		},
		{
			name: "AboveRange", code: "20", unrecovered: []string{"2", "10-19"},
			wantOutput: obj{}, wantErr: "exit code: 20", wantKind: action.KindServer, wantCode: "20", wantState: "exit status 20",
		},
		{
			name: "OtherSingle", code: "3", unrecovered: []string{"2"},
			wantOutput: obj{}, wantErr: "exit code: 3", wantKind: action.KindServer, wantCode: "3", wantState: "exit status 3",
		},
		{
			name: "Signal", file: "signal.sh",
			wantOutput: obj{"before": "signal"}, wantErr: "exit code: -1", wantKind: action.KindServer, wantCode: "-1", wantState: "signal: terminated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			file := tt.file
			if file == "" {
				file = "exit.sh"
			}
			res := b.run(context.Background(), t, nil, obj{
				"file_path":                file,
				"environment":              obj{"CODE": tt.code, "OUT": tt.out},
				"exit_codes_unrecoverable": tt.unrecovered,
			})
			requireErr(t, res, tt.wantErr, tt.wantKind)
			require.Equal(t, tt.wantOutput, res.Output)
			meta := metadata(t, res)
			require.Equal(t, tt.wantCode, meta[script.MetadataExitCode])
			require.Equal(t, tt.wantState, meta[script.MetadataProcessState])
			if tt.wantCode == "0" {
				require.Empty(t, meta[script.MetadataError])
			} else {
				require.Equal(t, tt.wantState, meta[script.MetadataError])
			}
		})
	}
}

// TestRunOutputModes feeds exact texts through a real process: the script
// prints $OUT byte for byte and exits 0.
func TestRunOutputModes(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "emit.sh", `printf '%s' "$OUT"`)

	const decodeErr = "decode output as a JSON object: "
	delims := []string{"-{3}BEGIN-{3}", "-{3}END-{3}"}
	tests := []struct {
		name       string
		mode       string
		delimiters []string
		out        string
		wantOutput any
		wantErr    string // prefix of the decoding error, "" for none
	}{
		{name: "LastLineAfterText", out: "Hello\n{\"a\": 1}\n", wantOutput: obj{"a": 1.0}},
		{name: "LastLineDefaultMode", mode: "", out: "x\n{\"b\": \"c\"}", wantOutput: obj{"b": "c"}},
		{name: "LastLineExplicitMode", mode: "manual-lastline", out: "x\n{\"b\": \"c\"}\n", wantOutput: obj{"b": "c"}},
		{name: "LastLineTrimmed", out: "x\n  \t{\"a\": [1, 2]} \t", wantOutput: obj{"a": []any{1.0, 2.0}}},
		{name: "LastLineCRLF", out: "x\r\n{\"a\": null}\r\n", wantOutput: obj{"a": nil}},
		{name: "LastLineOnlyLine", out: "{\"only\": true}", wantOutput: obj{"only": true}},
		{name: "LastLineOnlyLineWithNewline", out: "{\"only\": true}\n", wantOutput: obj{"only": true}},
		{name: "LastLineTwoTrailingNewlines", out: "{\"a\": 1}\n\n", wantOutput: obj{}},
		{name: "LastLineWhitespaceLineBefore", out: "{\"a\": 1}\n   \n", wantOutput: obj{}},
		{name: "LastLineEmptyOutput", out: "", wantOutput: obj{}},
		{name: "LastLineJustNewline", out: "\n", wantOutput: obj{}},
		{name: "LastLineNoNewlineUntrimmed", out: "   ", wantErr: decodeErr + "unexpected end of JSON input"},
		{name: "LastLineNumbersAreFloats", out: "{\"n\": 12345678901234567, \"f\": 1.5}\n", wantOutput: obj{"n": 12345678901234568.0, "f": 1.5}},
		{name: "LastLineNested", out: "{\"o\": {\"p\": [\"q\", {\"r\": false}]}}\n", wantOutput: obj{"o": obj{"p": []any{"q", obj{"r": false}}}}},
		{name: "LastLineNotJSON", out: "all good\n", wantErr: decodeErr + "invalid character 'a' looking for beginning of value"},
		{name: "LastLineJSONNotOnLastLine", out: "{\"a\": 1}\ndone\n", wantErr: decodeErr + "invalid character 'd' looking for beginning of value"},
		{name: "LastLineArray", out: "[1, 2]\n", wantErr: decodeErr + "json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{name: "LastLineString", out: "\"text\"\n", wantErr: decodeErr + "json: cannot unmarshal string into Go value of type map[string]interface {}"},
		{name: "LastLineNull", out: "null\n", wantErr: decodeErr + "got null"},
		{name: "LastLineTrailingText", out: "{\"a\": 1} and more\n", wantErr: decodeErr + "invalid character 'a' after top-level value"},
		{name: "LastLineTwoObjects", out: "{\"a\": 1}{\"b\": 2}\n", wantErr: decodeErr + "invalid character '{' after top-level value"},

		{name: "DisabledIgnoresJSON", mode: "disabled", out: "{\"a\": 1}\n", wantOutput: obj{}},
		{name: "DisabledIgnoresGarbage", mode: "disabled", out: "not json", wantOutput: obj{}},

		{name: "Delimiters", mode: "manual-delimiters", delimiters: delims, out: "noise ---BEGIN---{\"a\": 1}---END--- tail\n", wantOutput: obj{"a": 1.0}},
		{
			name: "DelimitersDotMatchesNewline", mode: "manual-delimiters", delimiters: delims,
			out: "log\n---BEGIN---\n{\n  \"a\": 1,\n  \"b\": \"two\"\n}\n---END---\nlog\n", wantOutput: obj{"a": 1.0, "b": "two"},
		},
		{
			name: "DelimitersLastStart", mode: "manual-delimiters", delimiters: delims,
			out: "---BEGIN--- draft ---BEGIN---{\"final\": true}---END---", wantOutput: obj{"final": true},
		},
		{
			name: "DelimitersUpToLastEnd", mode: "manual-delimiters", delimiters: delims,
			out: "---BEGIN---{\"a\": \"x ---END--- y\"}---END---", wantOutput: obj{"a": "x ---END--- y"},
		},
		{
			name: "DelimitersStartAfterLastEnd", mode: "manual-delimiters", delimiters: delims,
			out: "---BEGIN---{\"a\": 1}---END--- ---BEGIN--- unterminated", wantOutput: obj{"a": 1.0},
		},
		{name: "DelimitersNoMatch", mode: "manual-delimiters", delimiters: delims, out: "---BEGIN--- {\"a\": 1}\n", wantOutput: obj{}},
		{name: "DelimitersEmptyCapture", mode: "manual-delimiters", delimiters: delims, out: "---BEGIN------END---", wantOutput: obj{}},
		{
			name: "DelimitersCaptureInStart", mode: "manual-delimiters", delimiters: []string{"(B)(E)GIN", "END"},
			out: "BEGIN{\"g\": 3}END", wantOutput: obj{"g": 3.0},
		},
		{
			name: "DelimitersLineAnchors", mode: "manual-delimiters", delimiters: []string{"<<<\n", "\n>>>"},
			out: "a\n<<<\n{\"x\": \"y\"}\n>>>\nb", wantOutput: obj{"x": "y"},
		},
		{
			name: "DelimitersBadJSON", mode: "manual-delimiters", delimiters: delims,
			out: "---BEGIN---{a: 1}---END---", wantErr: decodeErr + "invalid character 'a' looking for beginning of object key string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg := obj{"file_path": "emit.sh", "environment": obj{"OUT": tt.out}}
			if tt.mode != "" {
				cfg["output_mode"] = tt.mode
			}
			if tt.delimiters != nil {
				cfg["output_manual_delimiters"] = tt.delimiters
			}
			res := b.run(context.Background(), t, nil, cfg)
			meta := metadata(t, res)
			require.Equal(t, tt.out, meta[script.MetadataOutput])
			require.Equal(t, "0", meta[script.MetadataExitCode])
			require.Empty(t, meta[script.MetadataError])
			if tt.wantErr != "" {
				requireErr(t, res, tt.wantErr, action.KindServer)
				require.Nil(t, res.Output)
				return
			}
			require.NoError(t, res.Err)
			require.Equal(t, tt.wantOutput, res.Output)
		})
	}
}

func TestRunEnvironment(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "env.sh", `printf '{"task":"%s","resolution":"%s","step":"%s","region":"%s","number":"%s","big":"%s","flag":"%s","null":"%s","map":"%s","path":"%s","set":"%s"}\n' \
  "$UTASK_TASK_ID" "$UTASK_RESOLUTION_ID" "$UTASK_STEP_NAME" "$REGION" "$NUMBER" "$BIG" "$FLAG" "$NULL" "$MAP" "$PATH" "${REGION+yes}"`)

	t.Run("Variables", func(t *testing.T) {
		t.Parallel()

		res := b.run(context.Background(), t, nil, obj{
			"file_path": "env.sh",
			"environment": obj{
				"REGION": "eu-west",
				"NUMBER": 10,
				"BIG":    json.Number("123456789012345678901234567890"),
				"FLAG":   true,
				"NULL":   nil,
				"MAP":    obj{"k": "v"},
			},
		})
		require.NoError(t, res.Err)
		require.Equal(t, obj{
			"task":       testTaskID,
			"resolution": testResolutionID,
			"step":       testStepName,
			"region":     "eu-west",
			"number":     "10",
			"big":        "123456789012345678901234567890",
			"flag":       "true",
			"null":       "<nil>",
			"map":        "map[k:v]",
			"path":       os.Getenv("PATH"),
			"set":        "yes",
		}, res.Output)
	})

	t.Run("EnvironmentOverridesUtaskVariables", func(t *testing.T) {
		t.Parallel()

		res := b.run(context.Background(), t, nil, obj{
			"file_path":   "env.sh",
			"environment": obj{"UTASK_TASK_ID": "mine", "UTASK_STEP_NAME": "renamed"},
		})
		require.NoError(t, res.Err)
		out, ok := res.Output.(map[string]any)
		require.True(t, ok)
		require.Equal(t, "mine", out["task"])
		require.Equal(t, testResolutionID, out["resolution"])
		require.Equal(t, "renamed", out["step"])
		require.Empty(t, out["set"])
	})

	t.Run("BaseEnvironmentMerged", func(t *testing.T) {
		t.Parallel()

		res := b.run(context.Background(), t,
			obj{"file_path": "env.sh", "environment": obj{"REGION": "base", "NUMBER": "1"}},
			obj{"environment": obj{"NUMBER": "2"}})
		require.NoError(t, res.Err)
		out, ok := res.Output.(map[string]any)
		require.True(t, ok)
		require.Equal(t, "base", out["region"])
		require.Equal(t, "2", out["number"])
	})

	t.Run("NoContext", func(t *testing.T) {
		t.Parallel()

		res := b.action.Run(context.Background(), action.Request{
			StepName: "bare",
			Config:   marshal(t, obj{"file_path": "env.sh"}),
		})
		require.NoError(t, res.Err)
		out, ok := res.Output.(map[string]any)
		require.True(t, ok)
		require.Empty(t, out["task"])
		require.Empty(t, out["resolution"])
		require.Equal(t, "bare", out["step"])
	})
}

func TestRunPythonEnvironment(t *testing.T) {
	t.Parallel()

	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	b := setup(t)
	b.write(t, "env-vars.py", `#!/usr/bin/env python3
import json, os, sys
print("dumping the environment", file=sys.stderr)
print(json.dumps(dict(os.environ)))
`, 0o755)

	res := b.run(context.Background(), t, nil, obj{
		"file_path":   "env-vars.py",
		"environment": obj{"static_value": "foo", "variable_value": "bar"},
	})
	require.NoError(t, res.Err)
	out, ok := res.Output.(map[string]any)
	require.True(t, ok)
	require.Equal(t, testTaskID, out["UTASK_TASK_ID"])
	require.Equal(t, testResolutionID, out["UTASK_RESOLUTION_ID"])
	require.Equal(t, testStepName, out["UTASK_STEP_NAME"])
	require.Equal(t, "foo", out["static_value"])
	require.Equal(t, "bar", out["variable_value"])
	require.True(t, strings.HasPrefix(metadata(t, res)[script.MetadataOutput], "dumping the environment\n{"))
}

func TestRunArguments(t *testing.T) {
	t.Parallel()

	b := setup(t)
	body := `printf '%s\n' "$0" "$#"
for arg in "$@"; do printf '[%s]\n' "$arg"; done`
	b.shell(t, "args.sh", body)
	b.shell(t, "sub/dir/args.sh", body)

	tests := []struct {
		name string
		file string
		argv []string
		want string
	}{
		{name: "None", file: "args.sh", want: "./args.sh\n0\n"},
		{name: "Spaces", file: "args.sh", argv: []string{"a b", "  c  "}, want: "./args.sh\n2\n[a b]\n[  c  ]\n"},
		{name: "Empty", file: "args.sh", argv: []string{"", "x", ""}, want: "./args.sh\n3\n[]\n[x]\n[]\n"},
		{
			name: "ShellCharactersNotInterpreted", file: "args.sh",
			argv: []string{"$HOME", "`id`", "a;b", "'q'\"d\"", "*", "new\nline"},
			want: "./args.sh\n6\n[$HOME]\n[`id`]\n[a;b]\n['q'\"d\"]\n[*]\n[new\nline]\n",
		},
		{name: "NestedPath", file: "sub/dir/args.sh", argv: []string{"--tier", "gold"}, want: "./sub/dir/args.sh\n2\n[--tier]\n[gold]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := b.run(context.Background(), t, nil, obj{"file_path": tt.file, "argv": tt.argv, "output_mode": "disabled"})
			require.NoError(t, res.Err)
			require.Equal(t, tt.want, metadata(t, res)[script.MetadataOutput])
		})
	}
}

func TestRunStdin(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "cat.sh", "cat")
	b.shell(t, "count.sh", `printf '{"bytes": %d}\n' "$(wc -c)"`)
	b.shell(t, "ignore.sh", `echo '{"ignored": true}'`)
	large := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, more than a pipe holds

	t.Run("Text", func(t *testing.T) {
		t.Parallel()

		res := b.run(context.Background(), t, nil, obj{"file_path": "cat.sh", "stdin": "line one\n{\"from\": \"stdin\"}\n"})
		require.NoError(t, res.Err)
		require.Equal(t, obj{"from": "stdin"}, res.Output)
	})

	t.Run("EmptyIsEndOfFile", func(t *testing.T) {
		t.Parallel()

		res := b.run(context.Background(), t, nil, obj{"file_path": "count.sh"})
		require.NoError(t, res.Err)
		require.Equal(t, obj{"bytes": 0.0}, res.Output)
	})

	t.Run("Large", func(t *testing.T) {
		t.Parallel()

		res := b.run(context.Background(), t, nil, obj{"file_path": "count.sh", "stdin": large})
		require.NoError(t, res.Err)
		require.Equal(t, obj{"bytes": float64(len(large))}, res.Output)
	})

	t.Run("LargeNotRead", func(t *testing.T) {
		t.Parallel()

		res := b.run(context.Background(), t, nil, obj{"file_path": "ignore.sh", "stdin": large})
		require.NoError(t, res.Err)
		require.Equal(t, obj{"ignored": true}, res.Output)
	})
}

func TestRunStderr(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "mixed.sh", `echo out one
echo err one >&2
echo out two
echo '{"on": "stderr"}' >&2`)

	res := b.run(context.Background(), t, nil, obj{"file_path": "mixed.sh"})
	require.NoError(t, res.Err)
	require.Equal(t, obj{"on": "stderr"}, res.Output)
	require.Equal(t, "out one\nerr one\nout two\n{\"on\": \"stderr\"}\n", metadata(t, res)[script.MetadataOutput])
}

func TestRunWorkingDirectory(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "sub/pwd.sh", `printf '{"pwd": "%s"}\n' "$(pwd -P)"`)

	res := b.run(context.Background(), t, nil, obj{"file_path": "sub/pwd.sh"})
	require.NoError(t, res.Err)
	want, err := filepath.EvalSymlinks(b.scripts)
	require.NoError(t, err)
	require.Equal(t, obj{"pwd": want}, res.Output)
}

func TestRunRelativeScriptsPath(t *testing.T) {
	t.Parallel()

	// The package directory is the working directory of tests; testdata
	// keeps the file out of the build.
	a := script.New(script.Options{ScriptsPath: "testdata"})
	res := a.Run(context.Background(), action.Request{StepName: "s", Config: marshal(t, obj{"file_path": "pwd.sh"})})
	require.NoError(t, res.Err)
	want, err := filepath.Abs("testdata")
	require.NoError(t, err)
	want, err = filepath.EvalSymlinks(want)
	require.NoError(t, err)
	require.Equal(t, obj{"pwd": want}, res.Output)
}

func TestRunStartFailures(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.write(t, "no-exec.sh", "#!/bin/sh\necho never\n", 0o644)
	b.write(t, "bad-interpreter.sh", "#!/nonexistent/interpreter\necho never\n", 0o755)
	b.write(t, "garbage.bin", "\x7fELF but not really", 0o755)

	tests := []struct {
		name        string
		file        string
		unrecovered []string
		wantErr     string
		wantKind    action.Kind
		wantError   string
	}{
		{name: "Missing", file: "missing.sh", wantErr: "exit code: 1", wantError: "fork/exec ./missing.sh: no such file or directory"},
		{name: "NotExecutable", file: "no-exec.sh", wantErr: "exit code: 1", wantError: "fork/exec ./no-exec.sh: permission denied"},
		{name: "BadInterpreter", file: "bad-interpreter.sh", wantErr: "exit code: 1", wantError: "fork/exec ./bad-interpreter.sh: no such file or directory"},
		{name: "NotAProgram", file: "garbage.bin", wantErr: "exit code: 1", wantError: "fork/exec ./garbage.bin: exec format error"},
		{
			name: "UnrecoverableOne", file: "missing.sh", unrecovered: []string{"1"},
			wantErr: "Client error: exit code: 1", wantKind: action.KindClient, wantError: "fork/exec ./missing.sh: no such file or directory",
		},
		{name: "EmptyFilePath", file: "", wantErr: "exit code: 1", wantError: "missing file_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := b.run(context.Background(), t, nil, obj{"file_path": tt.file, "exit_codes_unrecoverable": tt.unrecovered})
			requireErr(t, res, tt.wantErr, tt.wantKind)
			require.Equal(t, obj{}, res.Output)
			meta := metadata(t, res)
			require.Equal(t, "1", meta[script.MetadataExitCode])
			require.Equal(t, "<nil>", meta[script.MetadataProcessState])
			require.Equal(t, tt.wantError, meta[script.MetadataError])
			require.Empty(t, meta[script.MetadataOutput])
		})
	}
}

func TestRunBadConfiguration(t *testing.T) {
	t.Parallel()

	b := setup(t)
	marker := filepath.Join(b.root, "ran")
	b.shell(t, "touch.sh", fmt.Sprintf("touch '%s'", marker))

	tests := []struct {
		name    string
		config  obj
		wantErr string
	}{
		{name: "TypeMismatch", config: obj{"file_path": "touch.sh", "argv": "x"}, wantErr: "unmarshal configuration: json: cannot unmarshal string into Go struct field config.argv of type []string"},
		{name: "TemplatedTimeout", config: obj{"file_path": "touch.sh", "timeout": "soon"}, wantErr: `parse timeout: time: invalid duration "soon"`},
		{name: "TemplatedExitCode", config: obj{"file_path": "touch.sh", "exit_codes_unrecoverable": []string{"two"}}, wantErr: `exit_codes_unrecoverable entry "two": expecting <code> or <low>-<high> with digits only`},
		{name: "BadDelimiters", config: obj{"file_path": "touch.sh", "output_mode": "manual-delimiters"}, wantErr: "output_manual_delimiters: expecting 2 regular expressions, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := b.run(context.Background(), t, nil, tt.config)
			requireErr(t, res, tt.wantErr, action.KindServer)
			require.Nil(t, res.Output)
			require.Nil(t, res.Metadata)
			require.NoFileExists(t, marker)
		})
	}

	t.Run("MissingConfiguration", func(t *testing.T) {
		t.Parallel()

		res := b.action.Run(context.Background(), action.Request{StepName: "s"})
		requireErr(t, res, "unmarshal configuration: EOF", action.KindServer)
		require.Nil(t, res.Metadata)
	})
}
