package script_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/script"
)

func TestName(t *testing.T) {
	t.Parallel()

	registry := action.NewRegistry()
	require.NoError(t, registry.Register(script.Name, script.New(script.Options{ScriptsPath: t.TempDir()})))
	_, ok := registry.Lookup("script")
	require.True(t, ok)
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "ok.sh", "exit 0")
	b.shell(t, "sub/dir/nested.sh", "exit 0")
	b.write(t, "plain.txt", "not a script", 0o644)
	b.write(t, "owner-exec.sh", "#!/bin/sh\n", 0o700)
	b.write(t, "other-exec.sh", "#!/bin/sh\n", 0o601)
	require.NoError(t, os.Mkdir(filepath.Join(b.scripts, "folder"), 0o755))
	require.NoError(t, os.Symlink("ok.sh", filepath.Join(b.scripts, "link-inside.sh")))

	tests := []struct {
		name    string
		base    obj
		config  obj
		wantErr string
	}{
		{name: "Minimal", config: obj{"file_path": "ok.sh"}},
		{name: "Nested", config: obj{"file_path": "sub/dir/nested.sh"}},
		{name: "DotSegmentsInside", config: obj{"file_path": "sub/../ok.sh"}},
		{name: "OwnerExecuteBit", config: obj{"file_path": "owner-exec.sh"}},
		{name: "OtherExecuteBit", config: obj{"file_path": "other-exec.sh"}},
		{name: "RelativeSymlinkInside", config: obj{"file_path": "link-inside.sh"}},
		{
			name: "EveryField",
			config: obj{
				"file_path":                "ok.sh",
				"argv":                     []string{"--tier", "{{ .input.tier }}"},
				"stdin":                    "{{ .input.data }}",
				"environment":              obj{"REGION": "{{ .input.region }}", "N": 3, "B": true},
				"timeout":                  "45s",
				"output_mode":              "manual-delimiters",
				"output_manual_delimiters": []string{"^BEGIN$", "^END$"},
				"exit_codes_unrecoverable": []string{"2", "10-19"},
			},
		},
		{name: "FilePathFromBase", base: obj{"file_path": "ok.sh", "timeout": "1m"}, config: obj{"argv": []string{"x"}}},
		{name: "LegacyFieldsIgnored", config: obj{"file_path": "ok.sh", "last_line_not_json": true, "allow_exit_non_zero": true, "timeout_seconds": 3}},
		{name: "ZeroTimeout", config: obj{"file_path": "ok.sh", "timeout": "0s"}},
		{name: "PlusTimeout", config: obj{"file_path": "ok.sh", "timeout": "+1m30s"}},
		{name: "LastLineMode", config: obj{"file_path": "ok.sh", "output_mode": "manual-lastline"}},
		{name: "DisabledMode", config: obj{"file_path": "ok.sh", "output_mode": "disabled"}},
		{name: "EmptyDelimitersWithOtherMode", config: obj{"file_path": "ok.sh", "output_manual_delimiters": []string{}}},
		{name: "SingleExitCodeZero", config: obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"0"}}},
		{name: "LargeExitCodes", config: obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"255", "1-254"}}},

		{name: "MissingConfiguration", wantErr: "unmarshal configuration: EOF"},
		{name: "MissingFilePath", config: obj{}, wantErr: "missing file_path"},
		{name: "TemplatedFilePath", config: obj{"file_path": "{{ .input.script }}"}, wantErr: `stat script: statat {{ .input.script }}: no such file or directory`},
		{name: "FileNotFound", config: obj{"file_path": "nope.sh"}, wantErr: "stat script: statat nope.sh: no such file or directory"},
		{name: "NotExecutable", config: obj{"file_path": "plain.txt"}, wantErr: `script "plain.txt": not an executable file`},
		{name: "Directory", config: obj{"file_path": "folder"}, wantErr: `script "folder": not an executable file`},
		{name: "ScriptsFolderItself", config: obj{"file_path": "."}, wantErr: `script ".": not an executable file`},
		{
			name:    "ArgvNotAList",
			config:  obj{"file_path": "ok.sh", "argv": "a b"},
			wantErr: "unmarshal configuration: json: cannot unmarshal string into Go struct field config.argv of type []string",
		},
		{
			name:    "ArgvNumber",
			config:  obj{"file_path": "ok.sh", "argv": []any{1}},
			wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.argv of type string",
		},
		{
			name:    "EnvironmentNotAnObject",
			config:  obj{"file_path": "ok.sh", "environment": []string{"A=1"}},
			wantErr: "unmarshal configuration: json: cannot unmarshal array into Go struct field config.environment of type map[string]interface {}",
		},
		{
			name:    "TimeoutNotAString",
			config:  obj{"file_path": "ok.sh", "timeout": 30},
			wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.timeout of type string",
		},
		{name: "NegativeTimeout", config: obj{"file_path": "ok.sh", "timeout": "-1s"}, wantErr: `timeout "-1s": must not be negative`},
		{name: "BadTimeout", config: obj{"file_path": "ok.sh", "timeout": "2 minutes"}, wantErr: `parse timeout: time: unknown unit " minutes" in duration "2 minutes"`},
		{name: "DaysTimeout", config: obj{"file_path": "ok.sh", "timeout": "1d"}, wantErr: `parse timeout: time: unknown unit "d" in duration "1d"`},
		{name: "TemplatedTimeout", config: obj{"file_path": "ok.sh", "timeout": "{{ .input.t }}"}, wantErr: `parse timeout: time: invalid duration "{{ .input.t }}"`},
		{
			name:    "AutoResultMode",
			config:  obj{"file_path": "ok.sh", "output_mode": "auto-result"},
			wantErr: `unknown output_mode "auto-result": expecting manual-lastline, manual-delimiters or disabled`,
		},
		{
			name:    "UnknownMode",
			config:  obj{"file_path": "ok.sh", "output_mode": "lastline"},
			wantErr: `unknown output_mode "lastline": expecting manual-lastline, manual-delimiters or disabled`,
		},
		{
			name:    "DelimitersWithoutMode",
			config:  obj{"file_path": "ok.sh", "output_manual_delimiters": []string{"a", "b"}},
			wantErr: "output_manual_delimiters requires output_mode manual-delimiters",
		},
		{
			name:    "DelimitersWithLastLine",
			config:  obj{"file_path": "ok.sh", "output_mode": "manual-lastline", "output_manual_delimiters": []string{"a", "b"}},
			wantErr: "output_manual_delimiters requires output_mode manual-delimiters",
		},
		{
			name:    "DelimitersModeWithoutDelimiters",
			config:  obj{"file_path": "ok.sh", "output_mode": "manual-delimiters"},
			wantErr: "output_manual_delimiters: expecting 2 regular expressions, got 0",
		},
		{
			name:    "OneDelimiter",
			config:  obj{"file_path": "ok.sh", "output_mode": "manual-delimiters", "output_manual_delimiters": []string{"a"}},
			wantErr: "output_manual_delimiters: expecting 2 regular expressions, got 1",
		},
		{
			name:    "ThreeDelimiters",
			config:  obj{"file_path": "ok.sh", "output_mode": "manual-delimiters", "output_manual_delimiters": []string{"a", "b", "c"}},
			wantErr: "output_manual_delimiters: expecting 2 regular expressions, got 3",
		},
		{
			name:    "BadStartDelimiter",
			config:  obj{"file_path": "ok.sh", "output_mode": "manual-delimiters", "output_manual_delimiters": []string{"(", "b"}},
			wantErr: "compile start delimiter: error parsing regexp: missing closing ): `(`",
		},
		{
			name:    "BadEndDelimiter",
			config:  obj{"file_path": "ok.sh", "output_mode": "manual-delimiters", "output_manual_delimiters": []string{"a", "[b"}},
			wantErr: "compile end delimiter: error parsing regexp: missing closing ]: `[b`",
		},
		{
			name:    "ExitCodesNotStrings",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []any{3}},
			wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.exit_codes_unrecoverable of type string",
		},
		{
			name:    "ExitCodeNotDigits",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"3", "x"}},
			wantErr: `exit_codes_unrecoverable entry "x": expecting <code> or <low>-<high> with digits only`,
		},
		{
			name:    "ExitCodeNegative",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"-1"}},
			wantErr: `exit_codes_unrecoverable entry "-1": expecting <code> or <low>-<high> with digits only`,
		},
		{
			name:    "ExitCodeSpaces",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{" 3"}},
			wantErr: `exit_codes_unrecoverable entry " 3": expecting <code> or <low>-<high> with digits only`,
		},
		{
			name:    "ExitCodeEmpty",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{""}},
			wantErr: `exit_codes_unrecoverable entry "": expecting <code> or <low>-<high> with digits only`,
		},
		{
			name:    "RangeWithoutEnd",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"3-"}},
			wantErr: `exit_codes_unrecoverable entry "3-": expecting <code> or <low>-<high> with digits only`,
		},
		{
			name:    "RangeOfThree",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"1-2-3"}},
			wantErr: `exit_codes_unrecoverable entry "1-2-3": expecting <code> or <low>-<high> with digits only`,
		},
		{
			name:    "RangeFromZero",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"0-5"}},
			wantErr: `exit_codes_unrecoverable entry "0-5": a range cannot start at 0`,
		},
		{
			name:    "RangeSingleCode",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"3-3"}},
			wantErr: `exit_codes_unrecoverable entry "3-3": the end of a range must be greater than its start`,
		},
		{
			name:    "RangeReversed",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"19-10"}},
			wantErr: `exit_codes_unrecoverable entry "19-10": the end of a range must be greater than its start`,
		},
		{
			name:    "TemplatedExitCode",
			config:  obj{"file_path": "ok.sh", "exit_codes_unrecoverable": []string{"{{ .input.code }}"}},
			wantErr: `exit_codes_unrecoverable entry "{{ .input.code }}": expecting <code> or <low>-<high> with digits only`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := b.action.ValidateConfig(marshal(t, tt.base), marshal(t, tt.config))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestValidateConfigNotExecutableIsSentinel(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.write(t, "data.json", "{}", 0o644)
	err := b.action.ValidateConfig(nil, marshal(t, obj{"file_path": "data.json"}))
	require.ErrorIs(t, err, script.ErrNotExecutable)
}

func TestValidateConfigMissingScriptsFolder(t *testing.T) {
	t.Parallel()

	a := script.New(script.Options{ScriptsPath: filepath.Join(t.TempDir(), "absent")})
	err := a.ValidateConfig(nil, marshal(t, obj{"file_path": "x.sh"}))
	require.ErrorContains(t, err, "open scripts folder: ")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestPathTraversal checks that no file outside the scripts folder passes
// validation or runs, whatever the way of naming it.
func TestPathTraversal(t *testing.T) {
	t.Parallel()

	b := setup(t)
	marker := filepath.Join(b.root, "escaped")
	evil := writeFile(t, filepath.Join(b.outside, "evil.sh"), "#!/bin/sh\ntouch '"+marker+"'\n", 0o755)
	b.shell(t, "ok.sh", "exit 0")
	require.NoError(t, os.Symlink("../outside/evil.sh", filepath.Join(b.scripts, "relative-link.sh")))
	require.NoError(t, os.Symlink(evil, filepath.Join(b.scripts, "absolute-link.sh")))
	require.NoError(t, os.Symlink(b.outside, filepath.Join(b.scripts, "linked-dir")))
	require.NoError(t, os.Symlink("relative-link.sh", filepath.Join(b.scripts, "chained-link.sh")))
	require.NoError(t, os.Symlink(filepath.Join(b.scripts, "ok.sh"), filepath.Join(b.scripts, "absolute-inside.sh")))
	require.NoError(t, os.Mkdir(filepath.Join(b.scripts, "sub"), 0o755))

	for _, tt := range []struct {
		name string
		path string
	}{
		{name: "DotDot", path: "../outside/evil.sh"},
		{name: "DotDotThroughSubfolder", path: "sub/../../outside/evil.sh"},
		{name: "AbsolutePath", path: evil},
		{name: "AbsolutePathInside", path: filepath.Join(b.scripts, "ok.sh")},
		{name: "RelativeSymlink", path: "relative-link.sh"},
		{name: "AbsoluteSymlink", path: "absolute-link.sh"},
		{name: "SymlinkedFolder", path: "linked-dir/evil.sh"},
		{name: "ChainedSymlinks", path: "chained-link.sh"},
		{name: "AbsoluteSymlinkInside", path: "absolute-inside.sh"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg := obj{"file_path": tt.path}
			err := b.action.ValidateConfig(nil, marshal(t, cfg))
			require.ErrorIs(t, err, script.ErrOutsideScripts)

			res := b.run(context.Background(), t, nil, cfg)
			requireErr(t, res, "exit code: 1", action.KindServer)
			meta := metadata(t, res)
			require.Equal(t, "1", meta[script.MetadataExitCode])
			require.Equal(t, "<nil>", meta[script.MetadataProcessState])
			require.Contains(t, meta[script.MetadataError], "path is outside the scripts folder")
			require.Empty(t, meta[script.MetadataOutput])
			require.NoFileExists(t, marker)
		})
	}
}

func TestResources(t *testing.T) {
	t.Parallel()

	a := script.New(script.Options{ScriptsPath: t.TempDir()})
	require.Equal(t, []string{"fork", "script:sizing/estimate.py"}, a.Resources(nil, marshal(t, obj{"file_path": "sizing/estimate.py"})))
	require.Equal(t, []string{"fork", "script:base.sh"}, a.Resources(marshal(t, obj{"file_path": "base.sh"}), marshal(t, obj{"argv": []string{}})))
	require.Empty(t, a.Resources(nil, marshal(t, obj{"file_path": 3})))
	require.Empty(t, a.Resources(nil, nil))
}

func TestContext(t *testing.T) {
	t.Parallel()

	a := script.New(script.Options{ScriptsPath: t.TempDir()})
	cx, ok := a.(action.Contexter)
	require.True(t, ok)
	require.Equal(t, map[string]any{
		"task_id":       "{{ .task.task_id }}",
		"resolution_id": "{{ .task.resolution_id }}",
	}, cx.Context("stepOne"))
}
