package flows

// ParseInputs reads a file of flow inputs (`outflow run --inputs FILE`):
// one YAML or JSON mapping of input names to values. It is read with the
// project loader's guards (size, nesting, alias expansion) and its rules
// for values (no tags, no NaN or infinity, every problem at its position),
// so the values are JSON, as the workflow receives them. An empty file
// gives no inputs; the map returned is never nil.
func ParseInputs(name string, data []byte) (map[string]any, error) {
	bodies, problems := ParseYAML(name, data)
	if len(problems) > 0 {
		return nil, problems
	}
	inputs := map[string]any{}
	if len(bodies) == 0 {
		return inputs, nil
	}
	d := NewDecoding(name)
	if len(bodies) > 1 {
		d.ErrAt(bodies[1], "", "an inputs file is one YAML document; remove the second one (---)")
	}
	d.DecodeDocument(bodies[0], &inputs)
	if problems := d.Problems(); len(problems) > 0 {
		return nil, problems
	}
	if inputs == nil {
		inputs = map[string]any{}
	}
	return inputs, nil
}
