// Package yamlkit is the positioned-YAML kit every YAML file of Outflow is
// read with: parsing with safety limits (ParseGuarded, ParseYAML), decoding
// by reflection that reports every problem at once with its file:line:col
// (Decoder, and Decoding for types that decode themselves), the positions
// of values by path, problems, and did-you-mean suggestions (Closest,
// Known).
//
// It is a leaf under engine, the layer both of its users may import: flows
// loads projects with it and worker decodes agent.yaml with it, so neither
// imports the other. It imports nothing of Outflow's.
package yamlkit
