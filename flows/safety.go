package flows

import "github.com/outflow-dev/outflow/engine/yamlkit"

// Limits that keep a hostile or broken YAML file from exhausting memory, CPU
// or the stack; yamlkit holds and enforces them.
const (
	// MaxFileSize is the largest YAML file the loader reads, in bytes.
	MaxFileSize = yamlkit.MaxFileSize
	// MaxDepth is how deeply collections may nest in a document.
	MaxDepth = yamlkit.MaxDepth
	// MaxAliasExpansion is how many values aliases may add to one document.
	MaxAliasExpansion = yamlkit.MaxAliasExpansion
	// MaxTokens is how many YAML tokens one file may hold.
	MaxTokens = yamlkit.MaxTokens
	// MaxDocuments is how many YAML documents one file may hold.
	MaxDocuments = yamlkit.MaxDocuments
)
