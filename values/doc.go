// Package values evaluates value templates: Go text/template strings, extended with the Sprig v3
// functions and a few functions of its own, executed against the data tree of one resolution.
//
// # Data tree
//
// A [Values] holds the tree that templates see as their root: .input, .resolver_input, .config,
// .task, .step.NAME (with .step.this aliasing the step being templated), .iterator, and, when
// the [Scope] of an evaluation provides them, .pre_hook and .function_args. Templates run
// without the missingkey option, so a missing map key prints "<no value>", chaining fields on a
// missing key is allowed, and chaining on a non-map or on a key present with a nil value is an
// error.
//
// # Errors
//
// Parse and execution errors are returned wrapped in [ErrTemplating] with the text
// "Templating error: <go template error>"; the template is always named "tmpl".
//
// # Performance
//
// Parsed templates are kept in a [Cache], which is safe for concurrent use and bounded in size;
// several Values share one Cache through [Options.Cache]. A text without "{{" is returned as it
// is, without being parsed. The cost of an evaluation does not depend on the number of steps in
// the tree.
//
// # Differences from the reference engine
//
//   - The ordering operators of conditions compare correctly whatever their case: "gt" behaves
//     like "GT" (the reference engine lets a lower-case ordering assert always hold).
//   - An unknown condition operator and an invalid regular expression are errors.
//   - .step.this is removed from the tree once the evaluation that set it ends, instead of being
//     left behind with null fields; see [Scope].
//   - env and expandenv only read the process environment when [Options.AllowEnv] is set.
//   - Variable expressions run in goja, an ECMAScript 5.1+ interpreter, instead of otto. Results
//     convert with the same JavaScript String() rules, but exception texts are goja's, and a
//     syntax error reports only its first error, without the " (and N more errors)" suffix.
//     The JavaScript call depth is bounded ([ErrJSStackOverflow]).
//   - A variable that evaluates itself recursively fails after [MaxEvalDepth] nested
//     evaluations ([ErrEvalTooDeep]) instead of exhausting the stack.
//   - The internal .var handle is not exposed.
package values
