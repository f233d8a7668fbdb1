package flows

import _ "embed"

//go:embed schema/outflow.schema.json
var schemaJSON []byte

// Schema returns the JSON Schema of Outflow's YAML documents, for editors and
// for commands that print it. The caller may not modify the result.
func Schema() []byte { return schemaJSON }
