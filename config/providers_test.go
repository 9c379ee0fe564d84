package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

// writeFile creates path (and its parents) with content.
func writeFile(t *testing.T, path, content string) {
	t.Helper()

	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func TestLoadStore(t *testing.T) {
	t.Parallel()

	t.Run("EmptyFrom", func(t *testing.T) {
		t.Parallel()

		for _, from := range []string{"", " ", ",,"} {
			s, err := config.LoadStore(from, []string{"CFG_DATABASE=x"})
			require.NoError(t, err)
			require.Empty(t, s.Keys())
		}
	})

	t.Run("Env", func(t *testing.T) {
		t.Parallel()

		environ := []string{
			"CFG_UTASK_CFG={\"admin_usernames\":[\"admin\"]}",
			"CFG_DATABASE=postgres://u:p@db/utask?sslmode=disable&a=b",
			"CFG_=ignored",
			"CFGX_OTHER=ignored",
			"OTHER_KEY=ignored",
			"CFG",
			"cfg_lower=kept",
		}

		s, err := config.LoadStore("env:CFG", environ)
		require.NoError(t, err)
		require.Equal(t, []string{"database", "lower", "utask-cfg"}, s.Keys())

		v, _ := s.Get("database")
		require.Equal(t, "postgres://u:p@db/utask?sslmode=disable&a=b", v)

		v, _ = s.Get("utask-cfg")
		require.JSONEq(t, `{"admin_usernames":["admin"]}`, v)
	})

	t.Run("EnvPriorityBeatsFileDefault", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "database"), "from-file\n")
		writeFile(t, filepath.Join(dir, "region"), "from-file\n")

		for _, from := range []string{"filetree:" + dir + ",env:CFG", "env:CFG,filetree:" + dir} {
			s, err := config.LoadStore(from, []string{"CFG_DATABASE=from-env"})
			require.NoError(t, err)

			v, _ := s.Get("database")
			require.Equal(t, "from-env", v, from)

			v, _ = s.Get("region")
			require.Equal(t, "from-file", v, from)
		}
	})

	t.Run("FileYAML", func(t *testing.T) {
		t.Parallel()

		path := filepath.Join(t.TempDir(), "items.yaml")
		writeFile(t, path, `
- key: database
  value: postgres://db/utask
- key: utask_cfg
  value: '{"application_name": "yaml"}'
  priority: 30
- key: structured
  value: {admin_usernames: [admin]}
- key: number
  value: 42
- key: nothing
`)

		s, err := config.LoadStore("file:"+path, []string{"CFG_UTASK_CFG=env", "CFG_DATABASE=env"})
		require.NoError(t, err)

		v, _ := s.Get("database")
		require.Equal(t, "postgres://db/utask", v)

		v, _ = s.Get("utask-cfg")
		require.Equal(t, `{"application_name": "yaml"}`, v)

		v, _ = s.Get("structured")
		require.JSONEq(t, `{"admin_usernames":["admin"]}`, v)

		v, _ = s.Get("number")
		require.Equal(t, "42", v)

		v, ok := s.Get("nothing")
		require.True(t, ok)
		require.Empty(t, v)
	})

	t.Run("FileJSONAndPriorities", func(t *testing.T) {
		t.Parallel()

		path := filepath.Join(t.TempDir(), "items.json")
		writeFile(t, path, `[
			{"key": "database", "value": "explicit-zero", "priority": 0},
			{"key": "encryption-key", "value": "k1", "priority": 20},
			{"key": "encryption-key", "value": "k2", "priority": 20},
			{"key": "encryption-key", "value": "k0"}
		]`)

		s, err := config.LoadStore("env:CFG,file+refresh:"+path, []string{"CFG_DATABASE=env"})
		require.NoError(t, err)

		v, _ := s.Get("database")
		require.Equal(t, "env", v)
		require.Equal(t, []string{"k1", "k2"}, s.GetAll("encryption-key"))
	})

	t.Run("FileList", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "b.yaml"), "- {key: second, value: b}\n- {key: shared, value: from-b}\n")
		writeFile(t, filepath.Join(dir, "a.json"), `[{"key": "first", "value": "a"}, {"key": "shared", "value": "from-a"}]`)
		writeFile(t, filepath.Join(dir, ".hidden"), "not yaml: [")
		writeFile(t, filepath.Join(dir, "sub", "c.yaml"), "- {key: nested, value: c}\n")

		s, err := config.LoadStore("filelist:"+dir, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"first", "second", "shared"}, s.Keys())
		require.Equal(t, []string{"from-a", "from-b"}, s.GetAll("shared"))

		s2, err := config.LoadStore("filelist+refresh:"+dir, nil)
		require.NoError(t, err)
		require.Equal(t, s.Keys(), s2.Keys())
	})

	t.Run("FileTree", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "utask-cfg"), `{"admin_usernames": ["admin"]}`+"\n")
		writeFile(t, filepath.Join(dir, "Callback_Config"), `{"base_url": "http://127.0.0.1"}`)
		writeFile(t, filepath.Join(dir, "two-newlines"), "text\n\n")
		writeFile(t, filepath.Join(dir, "crlf"), "text\r\n")
		writeFile(t, filepath.Join(dir, "inner-newline"), "line1\nline2")
		writeFile(t, filepath.Join(dir, "empty"), "")
		writeFile(t, filepath.Join(dir, ".hidden"), "secret")
		writeFile(t, filepath.Join(dir, "encryption-key", "b-new"), "key-b\n")
		writeFile(t, filepath.Join(dir, "encryption-key", "a-old"), "key-a\n")
		writeFile(t, filepath.Join(dir, "encryption-key", "deeper", "ignored"), "deep")
		writeFile(t, filepath.Join(dir, "..data", "utask-cfg"), "kubernetes internals")

		s, err := config.LoadStore("filetree:"+dir, nil)
		require.NoError(t, err)
		require.Equal(t, []string{
			"callback-config", "crlf", "empty", "encryption-key", "inner-newline", "two-newlines", "utask-cfg",
		}, s.Keys())

		v, _ := s.Get("utask-cfg")
		require.Equal(t, `{"admin_usernames": ["admin"]}`, v)

		v, _ = s.Get("callback-config")
		require.Equal(t, `{"base_url": "http://127.0.0.1"}`, v)

		v, _ = s.Get("two-newlines")
		require.Equal(t, "text\n", v)

		v, _ = s.Get("crlf")
		require.Equal(t, "text", v)

		v, _ = s.Get("inner-newline")
		require.Equal(t, "line1\nline2", v)

		require.Equal(t, []string{"key-a", "key-b"}, s.GetAll("encryption-key"))
	})

	t.Run("FileTreeFollowsSymlinks", func(t *testing.T) {
		t.Parallel()

		data := t.TempDir()
		writeFile(t, filepath.Join(data, "database"), "postgres://db\n")
		writeFile(t, filepath.Join(data, "keys", "k1"), "one")

		dir := t.TempDir()
		require.NoError(t, os.Symlink(filepath.Join(data, "database"), filepath.Join(dir, "database")))
		require.NoError(t, os.Symlink(filepath.Join(data, "keys"), filepath.Join(dir, "encryption-key")))

		s, err := config.LoadStore("filetree+refresh:"+dir, nil)
		require.NoError(t, err)

		v, _ := s.Get("database")
		require.Equal(t, "postgres://db", v)
		require.Equal(t, []string{"one"}, s.GetAll("encryption-key"))
	})

	t.Run("FileTreeSharesPriorityWithFiles", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "tree", "k"), "tree")
		writeFile(t, filepath.Join(dir, "items.yaml"), "- {key: k, value: file}\n- {key: k, value: above, priority: 6}\n")

		s, err := config.LoadStore("filetree:"+filepath.Join(dir, "tree"), nil)
		require.NoError(t, err)
		require.Equal(t, []string{"tree"}, s.GetAll("k"))

		s, err = config.LoadStore("filetree:"+filepath.Join(dir, "tree")+",file:"+filepath.Join(dir, "items.yaml"), nil)
		require.NoError(t, err)
		require.Equal(t, []string{"above"}, s.GetAll("k"))
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		badYAML := filepath.Join(dir, "bad.yaml")
		writeFile(t, badYAML, "key: [unclosed")
		noKey := filepath.Join(dir, "nokey.yaml")
		writeFile(t, noKey, "- {value: v}\n")
		listDir := filepath.Join(dir, "list")
		writeFile(t, filepath.Join(listDir, "broken.yaml"), "{{{")
		dangling := filepath.Join(dir, "dangling")
		require.NoError(t, os.MkdirAll(dangling, 0o755))
		require.NoError(t, os.Symlink(filepath.Join(dir, "absent"), filepath.Join(dangling, "link")))

		missing := filepath.Join(dir, "missing")

		tests := []struct {
			name    string
			from    string
			wantErr []string
		}{
			{"UnknownProvider", "vault:secret", []string{`"vault:secret"`, `unknown provider "vault"`}},
			{"MissingArgument", "env", []string{`"env"`, "missing argument"}},
			{"EmptyArgument", "file:", []string{`"file:"`, "missing argument"}},
			{"MissingFile", "file:" + missing, []string{`"file:` + missing + `"`, "no such file"}},
			{"MissingDirectory", "filetree:" + missing, []string{`"filetree:` + missing + `"`, "no such file"}},
			{"MissingListDirectory", "filelist+refresh:" + missing, []string{`"filelist+refresh:` + missing + `"`}},
			{"BadYAML", "file:" + badYAML, []string{`"file:` + badYAML + `"`, "parse item file"}},
			{"ItemWithoutKey", "file:" + noKey, []string{"item 0 has no key"}},
			{"BadFileInList", "filelist:" + listDir, []string{"broken.yaml"}},
			{"DanglingLink", "filetree:" + dangling, []string{"link"}},
			{"FailureAfterGoodProvider", "env:CFG,file:" + missing, []string{`"file:` + missing + `"`}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				s, err := config.LoadStore(tt.from, []string{"CFG_DATABASE=x"})
				require.Error(t, err)
				require.Nil(t, s)

				for _, want := range tt.wantErr {
					require.ErrorContains(t, err, want)
				}
			})
		}
	})
}
