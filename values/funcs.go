package values

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/google/uuid"
)

// Errors of the fieldFrom function. Their texts are part of the template language.
var (
	// ErrFieldFromArgs is returned by fieldFrom when it gets fewer than two arguments.
	ErrFieldFromArgs = errors.New("invalid number of parameters given") //nolint:gochecknoglobals // sentinel error

	// ErrFieldFromData is returned by fieldFrom when its data is not a string-keyed map.
	ErrFieldFromData = errors.New("unable to cast given data to a map[string]") //nolint:gochecknoglobals // sentinel error

	// ErrFieldFromKey is returned by fieldFrom when one of its keys is not a string. Its text,
	// "foo", is the one templates have always seen.
	ErrFieldFromKey = errors.New("foo") //nolint:gochecknoglobals // sentinel error
)

// errUnbound is returned by a Values-bound function called outside of a Values, which the cache
// never lets happen.
var errUnbound = errors.New("call function: not bound to values") //nolint:gochecknoglobals // sentinel error

// buildFuncMaps returns the function maps of templates: index 0 without access to the process
// environment, index 1 with it.
func buildFuncMaps() [2]template.FuncMap {
	withEnv := template.FuncMap(sprig.TxtFuncMap())
	maps.Copy(withEnv, template.FuncMap{
		"b64RawDec":    b64RawDec,
		"b64RawEnc":    b64RawEnc,
		"fieldFrom":    fieldFrom,
		"fromJson":     fromJSON,
		"mustFromJson": mustFromJSON,
		"uuid":         uuid.NewString,
		// The next three are replaced in the clone that executes a template (see
		// cacheEntry.acquire); they only need to exist for parsing.
		"eval":      unboundEval,
		"evalCache": unboundEval,
		"field":     unboundField,
	})

	withoutEnv := maps.Clone(withEnv)
	withoutEnv["env"] = func(string) string { return "" }
	withoutEnv["expandenv"] = func(s string) string {
		return os.Expand(s, func(string) string { return "" })
	}

	return [2]template.FuncMap{withoutEnv, withEnv}
}

// b64RawDec decodes unpadded standard base64. A decoding failure is not an error: the error
// text is returned as the result.
func b64RawDec(s string) string {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return err.Error()
	}

	return string(b)
}

// b64RawEnc encodes s in standard base64 without padding.
func b64RawEnc(s string) string {
	return base64.RawStdEncoding.EncodeToString([]byte(s))
}

// fieldFrom walks its last argument by the keys given before it.
func fieldFrom(args ...any) (any, error) {
	if len(args) < 2 { //nolint:mnd // at least one key and the data
		return nil, ErrFieldFromArgs
	}

	var data any
	switch m := args[len(args)-1].(type) {
	case map[string]any, map[string]string:
		data = m
	default:
		return nil, ErrFieldFromData
	}

	keys := make([]string, 0, len(args)-1)
	for _, k := range args[:len(args)-1] {
		s, ok := k.(string)
		if !ok {
			return nil, ErrFieldFromKey
		}

		keys = append(keys, s)
	}

	return walkField(data, keys), nil
}

// fromJSON parses s with binary floats; invalid JSON gives nil, which prints "<no value>".
func fromJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil
	}

	return v
}

// mustFromJSON parses s with binary floats and fails on invalid JSON.
func mustFromJSON(s string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err //nolint:wrapcheck // the template engine prefixes "error calling mustFromJson: "
	}

	return v, nil
}

// unboundEval stands for eval and evalCache in the shared parsed templates.
func unboundEval(string) (any, error) {
	return nil, errUnbound
}

// unboundField stands for field in the shared parsed templates.
func unboundField(...string) (any, error) {
	return nil, errUnbound
}

// walkField follows keys from data through string-keyed maps. A missing key or a value that is
// not such a map on the way gives nil.
func walkField(data any, keys []string) any {
	cur := data
	for _, k := range keys {
		var ok bool
		switch m := cur.(type) {
		case map[string]any:
			cur, ok = m[k]
		case map[string]string:
			cur, ok = m[k]
		}

		if !ok {
			return nil
		}
	}

	return cur
}

// binder connects the eval, evalCache and field functions of one template execution to the
// Values and scope it runs with.
type binder struct {
	root map[string]any
	sc   Scope
	v    *Values
}

// eval evaluates the variable called name.
func (b *binder) eval(name string) (any, error) {
	if b.v == nil {
		return nil, errUnbound
	}

	return b.v.evalVariable(name, b.sc, false)
}

// evalCache evaluates the variable called name, memoising a non-nil result.
func (b *binder) evalCache(name string) (any, error) {
	if b.v == nil {
		return nil, errUnbound
	}

	return b.v.evalVariable(name, b.sc, true)
}

// field walks the data root by keys.
func (b *binder) field(keys ...string) (any, error) {
	if b.root == nil {
		return nil, errUnbound
	}

	return walkField(b.root, keys), nil
}
