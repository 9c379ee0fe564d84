package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Default values of the process flags.
const (
	DefaultInitPath      = "./init"
	DefaultPluginsPath   = "./plugins"
	DefaultTemplatesPath = "./templates"
	DefaultFunctionsPath = "./functions"
	DefaultScriptsPath   = "./scripts"
	DefaultRegion        = "default"
	DefaultHTTPPort      = 8081
	DefaultLogsFormat    = LogsFormatText
)

// Log formats accepted by --logs-format and NewLogger.
const (
	LogsFormatText = "text"
	LogsFormatJSON = "json"
	LogsFormatGELF = "gelf"
)

// maxPort is the highest TCP port number.
const maxPort = 65535

// Flags are the process flags; each has an environment fallback.
//
// A flag given on the command line wins over its environment variable, which wins over the
// default. An empty value, on the command line or in the environment, counts as not given. Flags
// are accepted as -flag, --flag, -flag=value and --flag=value; non-boolean flags also take their
// value as the next argument.
//
// This differs on purpose from µTask in five ways:
//   - FUNCTIONS is honoured as the fallback of --functions-path (µTask binds the variable but never
//     reads it, so only the flag works there).
//   - --http-port 0 means "pick a free port" (µTask refuses 0).
//   - A negative port, or one above 65535, is the error "incorrect HTTP port range: <n>".
//   - --http-host (SERVER_HOST) restricts the listening address (µTask listens on every
//     interface, which stays the default).
//   - An unknown --logs-format is an error at start (µTask starts without a log formatter and
//     crashes on the first log line). Besides "text" and "gelf", "json" is accepted.
type Flags struct {
	// InitPath is the directory of init plugins (--init-path, INIT). Defaults to "./init".
	InitPath string
	// PluginsPath is the directory of action plugins (--plugins-path, PLUGINS). Defaults to
	// "./plugins".
	PluginsPath string
	// TemplatesPaths are the directories of task templates (--templates-path, TEMPLATES,
	// colon-separated; empty entries are dropped). Defaults to ["./templates"].
	TemplatesPaths []string
	// FunctionsPath is the directory of function files (--functions-path, FUNCTIONS). Defaults to
	// "./functions".
	FunctionsPath string
	// ScriptsPath is the base directory of the script action (--scripts-path, SCRIPTS). Defaults to
	// "./scripts".
	ScriptsPath string
	// Region is a free label exposed to templates (--region, REGION). Defaults to "default".
	Region string
	// HTTPPort is the listening port (--http-port, SERVER_PORT); 0 picks a free port. Defaults to
	// 8081.
	HTTPPort int
	// HTTPHost is the address the server listens on (--http-host, SERVER_HOST): an IP address or
	// a host name. Empty, the default, is every interface, as in µTask.
	HTTPHost string
	// Debug sets the log level to debug (--debug, DEBUG). Defaults to false.
	Debug bool
	// MaintenanceMode refuses API writes and keeps background collectors stopped
	// (--maintenance-mode, MAINTENANCE_MODE). Defaults to false.
	MaintenanceMode bool
	// LogsFormat is "text", "json" or "gelf" (--logs-format, LOGS_FORMAT). Defaults to "text".
	LogsFormat string
}

// flagValues receives the raw command-line values before the environment fallbacks apply.
type flagValues struct {
	initPath, pluginsPath, templatesPath, functionsPath, scriptsPath string
	region, logsFormat, httpHost                                     string
	httpPort                                                         int
	debug, maintenanceMode                                           bool
}

// newFlagSet declares every process flag on a fresh flag set that writes nothing.
func newFlagSet(name string, v *flagValues) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&v.initPath, "init-path", DefaultInitPath, "directory of init plugins (env INIT)")
	fs.StringVar(&v.pluginsPath, "plugins-path", DefaultPluginsPath, "directory of action plugins (env PLUGINS)")
	fs.StringVar(&v.templatesPath, "templates-path", DefaultTemplatesPath,
		"colon-separated directories of task templates (env TEMPLATES)")
	fs.StringVar(&v.functionsPath, "functions-path", DefaultFunctionsPath, "directory of functions (env FUNCTIONS)")
	fs.StringVar(&v.scriptsPath, "scripts-path", DefaultScriptsPath,
		"base directory of the script action (env SCRIPTS)")
	fs.StringVar(&v.region, "region", DefaultRegion, "region label exposed to templates (env REGION)")
	fs.IntVar(&v.httpPort, "http-port", DefaultHTTPPort, "HTTP listening port, 0 for any free port (env SERVER_PORT)")
	fs.StringVar(&v.httpHost, "http-host", "",
		"HTTP listening address, empty for every interface (env SERVER_HOST)")
	fs.BoolVar(&v.debug, "debug", false, "log at debug level (env DEBUG)")
	fs.BoolVar(&v.maintenanceMode, "maintenance-mode", false,
		"refuse API writes and do not start the collectors (env MAINTENANCE_MODE)")
	fs.StringVar(&v.logsFormat, "logs-format", DefaultLogsFormat, "log format: text, json or gelf (env LOGS_FORMAT)")

	return fs
}

// FlagsUsage returns the help text listing every process flag, for a program called name.
func FlagsUsage(name string) string {
	var (
		v   flagValues
		buf bytes.Buffer
	)

	fs := newFlagSet(name, &v)
	fs.SetOutput(&buf)
	fmt.Fprintf(&buf, "Usage of %s:\n", name)
	fs.PrintDefaults()

	return buf.String()
}

// ParseFlags parses args (without the program name) with a flag.FlagSet named name. Precedence: a flag
// given on the command line > the environment variable (read through getenv) > the default. Relative
// paths are made absolute against the working directory wd, which must itself be absolute. Booleans
// from the environment use strconv.ParseBool; an unparsable value is false. Errors (unknown flag,
// bad port, unknown log format, a positional argument) are returned, never os.Exit; -h and --help
// give an error wrapping flag.ErrHelp.
func ParseFlags(name string, args []string, getenv func(string) string, wd string) (Flags, error) {
	if !filepath.IsAbs(wd) {
		return Flags{}, fmt.Errorf("resolve paths: working directory %q is not absolute", wd)
	}

	if getenv == nil {
		getenv = func(string) string { return "" }
	}

	var v flagValues

	fs := newFlagSet(name, &v)
	if err := fs.Parse(args); err != nil {
		return Flags{}, fmt.Errorf("parse flags: %w", err)
	}

	if fs.NArg() > 0 {
		return Flags{}, fmt.Errorf("parse flags: unexpected argument %q", fs.Arg(0))
	}

	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	pick := func(flagName, flagValue, envName, def string) string {
		if given[flagName] && flagValue != "" {
			return flagValue
		}

		if e := getenv(envName); e != "" {
			return e
		}

		return def
	}

	pickBool := func(flagName string, flagValue bool, envName string) bool {
		if given[flagName] {
			return flagValue
		}

		b, err := strconv.ParseBool(strings.TrimSpace(getenv(envName)))

		return err == nil && b
	}

	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}

		return filepath.Join(wd, p)
	}

	port, err := pickPort(given["http-port"], v.httpPort, getenv("SERVER_PORT"))
	if err != nil {
		return Flags{}, err
	}

	f := Flags{
		InitPath:        abs(pick("init-path", v.initPath, "INIT", DefaultInitPath)),
		PluginsPath:     abs(pick("plugins-path", v.pluginsPath, "PLUGINS", DefaultPluginsPath)),
		FunctionsPath:   abs(pick("functions-path", v.functionsPath, "FUNCTIONS", DefaultFunctionsPath)),
		ScriptsPath:     abs(pick("scripts-path", v.scriptsPath, "SCRIPTS", DefaultScriptsPath)),
		Region:          pick("region", v.region, "REGION", DefaultRegion),
		HTTPPort:        port,
		HTTPHost:        pick("http-host", v.httpHost, "SERVER_HOST", ""),
		Debug:           pickBool("debug", v.debug, "DEBUG"),
		MaintenanceMode: pickBool("maintenance-mode", v.maintenanceMode, "MAINTENANCE_MODE"),
		LogsFormat:      pick("logs-format", v.logsFormat, "LOGS_FORMAT", DefaultLogsFormat),
	}

	for _, p := range strings.Split(pick("templates-path", v.templatesPath, "TEMPLATES", DefaultTemplatesPath), ":") {
		if p != "" {
			f.TemplatesPaths = append(f.TemplatesPaths, abs(p))
		}
	}

	if len(f.TemplatesPaths) == 0 {
		f.TemplatesPaths = []string{abs(DefaultTemplatesPath)}
	}

	if !validLogsFormat(f.LogsFormat) {
		return Flags{}, fmt.Errorf("parse flags: unknown logs format %q (want text, json or gelf)", f.LogsFormat)
	}

	return f, nil
}

// ErrPortRange is wrapped by the error ParseFlags returns for a negative port or one above 65535.
var ErrPortRange = errors.New("incorrect HTTP port range") //nolint:gochecknoglobals // immutable sentinel

// pickPort chooses the command-line port when given, else SERVER_PORT when set, else the default,
// and checks its range.
func pickPort(given bool, flagValue int, env string) (int, error) {
	port := DefaultHTTPPort

	switch env = strings.TrimSpace(env); {
	case given:
		port = flagValue
	case env != "":
		n, err := strconv.Atoi(env)
		if err != nil {
			return 0, fmt.Errorf("parse SERVER_PORT %q: %w", env, err)
		}

		port = n
	}

	if port < 0 || port > maxPort {
		return 0, fmt.Errorf("%w: %d", ErrPortRange, port)
	}

	return port, nil
}

// validLogsFormat reports whether format is one NewLogger builds.
func validLogsFormat(format string) bool {
	switch format {
	case LogsFormatText, LogsFormatJSON, LogsFormatGELF:
		return true
	default:
		return false
	}
}
