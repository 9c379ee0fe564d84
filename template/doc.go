// Package template reads, normalises and validates task templates and
// functions, and checks the inputs a requester or a resolver gives.
//
// A template file is YAML 1.1 decoded into the types of types.go. Parse
// decodes one file; Validate normalises it in place and checks it against a
// Catalog (the registered actions, the loaded functions and the names of the
// known templates), in a fixed order, with µTask's error texts. LoadDirs and
// LoadFunctions read whole directories. ValidateInputs checks the values of
// a task's inputs against their declarations.
//
// A function is a reusable action: a step names it as its action type, and
// the function's own action may name another function, down to a plugin
// action. Catalog.Resolve unwraps such a chain; the Effective* methods of
// Catalog combine what the functions of a chain contribute to a step
// (conditions, custom states, pre-hook).
//
// Validation walks the steps in sorted name order, so that a template with
// several invalid steps always reports the same one.
package template
