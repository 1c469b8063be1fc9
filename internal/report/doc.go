// Package report holds the shapes of what the commands print with --json (and write with
// --report), and of the events --log-format json writes on stderr: one Go type per document,
// snake_case keys, each with schema_version. docs/json.md documents them with an example each;
// report_test.go checks those examples against these types, and the tests of the commands
// decode their real output with Decode, which refuses unknown and missing keys.
//
// A change that removes or renames a key, or changes its meaning, is a new SchemaVersion;
// adding an optional key is not.
package report

// SchemaVersion is the version of every document of this package.
const SchemaVersion = 1
