package template

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeFiles writes name → content files under dir, creating directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
}

func templateYAML(name, extra string) string {
	return "name: " + name + "\ndescription: a template\ntitle_format: a title\n" + extra
}

func templateNames(ts []*Template) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

func TestLoadDirs(t *testing.T) {
	t.Parallel()

	t.Run("ReadsYAMLFilesSortedByName", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"b.yaml":             templateYAML("Hello-WORLD-now", ""),
			"a.yaml":             templateYAML("zeta", ""),
			"ignored.yml":        templateYAML("yml-is-ignored", ""),
			"notes.txt":          "not yaml",
			"sub/deeper.yaml":    templateYAML("no-recursion", ""),
			"dir.yaml/file.yaml": templateYAML("directory-named-yaml", ""),
		})
		got, err := LoadDirs([]string{dir}, testCatalog(t))
		require.NoError(t, err)
		require.Equal(t, []string{"hello-world-now", "zeta"}, templateNames(got))
	})

	t.Run("TemplatesReferenceEachOther", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			// a-hello is validated before hello-world-now exists in the catalog.
			"a.yaml": templateYAML("a-hello", "steps:\n  sub:\n    action:\n      type: testsubtask\n      configuration:\n        template: hello-world-now\n"),
			"b.yaml": templateYAML("Hello-World-Now", ""),
		})
		c := testCatalog(t)
		got, err := LoadDirs([]string{dir}, c)
		require.NoError(t, err)
		require.Equal(t, []string{"a-hello", "hello-world-now"}, templateNames(got))
		require.Equal(t, map[string]bool{"known-template": true}, c.Templates, "the caller's catalog is not modified")
	})

	t.Run("KnownTemplatesOfCatalog", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"a.yaml": templateYAML("uses-known", "steps:\n  sub:\n    action:\n      type: testsubtask\n      configuration:\n        template: known-template\n"),
			"b.yaml": templateYAML("uses-unknown", "steps:\n  sub:\n    action:\n      type: testsubtask\n      configuration:\n        template: nowhere\n"),
		})
		got, err := LoadDirs([]string{dir}, testCatalog(t))
		require.EqualError(t, err, "template "+filepath.Join(dir, "b.yaml")+
			`: Invalid task template: Invalid step sub: Invalid executor action: template "nowhere" not found`)
		require.Equal(t, []string{"uses-known"}, templateNames(got))
	})

	t.Run("ReportsEveryErrorWithItsFile", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		missing := filepath.Join(dir, "missing")
		writeFiles(t, dir, map[string]string{
			"good.yaml":     templateYAML("good", ""),
			"bad-name.yaml": templateYAML("ab", ""),
			"bad-yaml.yaml": "name: [unclosed\n",
			"bad-step.yaml": templateYAML("bad-step", "steps:\n  s:\n    action:\n      type: nope\n"),
		})
		got, err := LoadDirs([]string{dir, missing}, testCatalog(t))
		require.Error(t, err)
		require.Equal(t, []string{"good"}, templateNames(got))
		lines := strings.Split(err.Error(), "\n")
		require.Len(t, lines, 4, err.Error())
		require.Equal(t, "template "+filepath.Join(dir, "bad-yaml.yaml")+": unmarshal template: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'", lines[0])
		require.Equal(t, "open template directory "+missing+": open "+missing+": no such file or directory", lines[1])
		require.Equal(t, "template "+filepath.Join(dir, "bad-name.yaml")+": Invalid task template: template name can't be shorter than 3 characters", lines[2])
		require.Equal(t, "template "+filepath.Join(dir, "bad-step.yaml")+": Invalid task template: Invalid step s: Invalid executor action: No runner for type 'nope'", lines[3])
		var verr *ValidationError
		require.ErrorAs(t, err, &verr)
	})

	t.Run("MissingDirectory", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(t.TempDir(), "nope")
		got, err := LoadDirs([]string{missing}, nil)
		require.EqualError(t, err, "open template directory "+missing+": open "+missing+": no such file or directory")
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Empty(t, got)
	})

	t.Run("LaterDuplicateWins", func(t *testing.T) {
		t.Parallel()
		first, second := t.TempDir(), t.TempDir()
		writeFiles(t, first, map[string]string{"x.yaml": templateYAML("same", "hidden: false\n")})
		writeFiles(t, second, map[string]string{"y.yaml": templateYAML(" SAME ", "hidden: true\n")})
		got, err := LoadDirs([]string{first, second}, testCatalog(t))
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "same", got[0].Name)
		require.True(t, got[0].Hidden)
	})

	t.Run("SymlinkToRegularFile", func(t *testing.T) {
		t.Parallel()
		dir, elsewhere := t.TempDir(), t.TempDir()
		writeFiles(t, elsewhere, map[string]string{"real.yaml": templateYAML("linked", "")})
		require.NoError(t, os.Symlink(filepath.Join(elsewhere, "real.yaml"), filepath.Join(dir, "link.yaml")))
		require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "linkdir.yaml")))
		got, err := LoadDirs([]string{dir}, testCatalog(t))
		require.NoError(t, err)
		require.Equal(t, []string{"linked"}, templateNames(got))
	})
}

func TestLoadFunctions(t *testing.T) {
	t.Parallel()

	fn := func(name string) string {
		return "name: " + name + "\naction:\n  type: test\n  configuration:\n    output: '{{ .function_args.x }}'\n"
	}

	t.Run("WalksRecursively", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"a.yaml":          fn("a::one"),
			"deep/er/b.yaml":  fn("b::two"),
			".hidden.yaml":    fn("hidden"),
			"deep/.dot.yaml":  fn("dot"),
			"c.yml":           fn("yml"),
			"readme.md":       "not a function",
			".git/HEAD.yaml":  fn("in-dot-dir"),
			"deep/Upper.yaml": fn("Upper::Case"),
		})
		got, err := LoadFunctions(dir, testRegistry(t))
		require.NoError(t, err)
		names := make([]string, 0, len(got))
		for name, f := range got {
			require.Equal(t, name, f.Name)
			names = append(names, name)
		}
		require.ElementsMatch(t, []string{"a::one", "b::two", "Upper::Case", "in-dot-dir"}, names)
		require.Equal(t, []string{"x"}, got["a::one"].Arguments())
	})

	t.Run("MissingDirectory", func(t *testing.T) {
		t.Parallel()
		got, err := LoadFunctions(filepath.Join(t.TempDir(), "none"), testRegistry(t))
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("Duplicate", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"a.yaml":     fn("dup"),
			"sub/b.yaml": fn("dup"),
		})
		got, err := LoadFunctions(dir, testRegistry(t))
		require.EqualError(t, err, `"`+filepath.Join(dir, "sub", "b.yaml")+`": function already exists and was declared in "`+filepath.Join(dir, "a.yaml")+`"`)
		require.Len(t, got, 1)
	})

	t.Run("ClashWithRegisteredAction", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"a.yaml": fn("test")})
		_, err := LoadFunctions(dir, testRegistry(t))
		require.EqualError(t, err, `"`+filepath.Join(dir, "a.yaml")+`": function "test": name already used by a registered action`)
	})

	t.Run("EveryErrorNamesItsFile", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"a.yaml": "name: no-configuration\naction:\n  type: test\n",
			"b.yaml": "name: list-configuration\naction:\n  type: test\n  configuration: [1]\n",
			"c.yaml": "name: [broken\n",
			"d.yaml": fn("fine"),
		})
		got, err := LoadFunctions(dir, testRegistry(t))
		require.Error(t, err)
		require.Equal(t, []string{
			`function "` + filepath.Join(dir, "a.yaml") + `": unexpected end of JSON input`,
			`function "` + filepath.Join(dir, "b.yaml") + `": json: cannot unmarshal array into Go value of type map[string]interface {}`,
			`function "` + filepath.Join(dir, "c.yaml") + `": unmarshal function: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'`,
		}, strings.Split(err.Error(), "\n"))
		require.Len(t, got, 1)
		require.Contains(t, got, "fine")
	})
}
