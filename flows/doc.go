// Package flows loads an Outflow project — a folder of YAML documents of kind
// Flow, Action, Connection, ProtocolProfile, Project and Test — validates it,
// and compiles its flows and actions into engine plans and its tests into
// test cases (Project.TestCase) that a runner checks a run's record against.
//
// Load reports every problem of a project at once, each with its file, line,
// column and path (Problems), so that `outflow validate` can show them all.
// A loaded Project compiles a flow or action by name (Project.Plan) into an
// engine.Plan that carries the definitions it reaches and no secret value.
//
// The document types of types.go, the Step of stepkinds.go and the types of
// each step kind's file (step_<kind>.go) are the YAML contract. The JSON
// Schema for editors (schema/outflow.schema.json, also returned by Schema)
// and the field reference (docs/reference.md) are generated from them:
//
//	go generate ./flows
//
// Step kinds are rows of one ordered table (stepKinds in stepkinds.go), each
// row a function of the kind's file that gives its checks, its compilation
// and the steps it holds; docs/contributing.md says how to add one.
package flows

//go:generate go run ./cmd/genschema
