// Package config reads everything the server needs before it starts: the process flags and their
// environment fallbacks, the process logger, and the configuration items served from the providers
// named by CONFIGURATION_FROM (environment variables, item files, item directories and file trees),
// including the central utask-cfg item.
//
// Nothing here keeps package state: ParseFlags reads the environment through the function it is
// given, and LoadStore reads the environment list it is given, so every test can run in parallel.
package config
