// Package schema holds the JSON Schema of the template format, for editors
// (and the server, which serves it).
package schema

import _ "embed"

// Template is the JSON Schema (draft-07) of a task template file.
//
//go:embed template.schema.json
var Template []byte //nolint:gochecknoglobals // embedded, read-only
