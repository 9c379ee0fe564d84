// Package deps pins the modules the project builds on while the packages
// that use them are being written. It is removed once every module is
// imported by real code.
package deps

import (
	_ "github.com/Masterminds/sprig/v3"
	_ "github.com/dop251/goja"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
	_ "golang.org/x/crypto/ssh"
	_ "modernc.org/sqlite"
	_ "sigs.k8s.io/yaml"
)
