package flows

import "github.com/outflow-dev/outflow/engine/yamlkit"

// The project decoder is lent to Outflow's other YAML files through
// yamlkit; these names stay so that callers of flows keep working.

// Decoding is yamlkit.Decoding.
type Decoding = yamlkit.Decoding

// NodeDecoder is yamlkit.NodeDecoder.
type NodeDecoder = yamlkit.NodeDecoder

// NewDecoding is yamlkit.NewDecoding.
var NewDecoding = yamlkit.NewDecoding

// JoinPath is yamlkit.JoinPath.
var JoinPath = yamlkit.JoinPath

// ParentPath is yamlkit.ParentPath.
var ParentPath = yamlkit.ParentPath

// StringValue is yamlkit.StringValue.
var StringValue = yamlkit.StringValue

// Describe is yamlkit.Describe.
var Describe = yamlkit.Describe
