package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

func sortStrings(s []string) { sort.Strings(s) }

// maxExactInteger is the largest integer a JSON number (a float64) holds
// exactly: an integer input beyond it would silently become another one.
const maxExactInteger = 1 << 53

func exactInteger(s InputSpec, x float64) (any, error) {
	if x > maxExactInteger || x < -maxExactInteger {
		return nil, fmt.Errorf("input %q: %.0f is too large for an integer input (at most ±2^53, what a JSON number holds exactly); declare the input type: string", s.Name, x)
	}
	return x, nil
}

// coerceInput converts an input given as text (from the command line) to the
// declared type, and checks values of other types.
func coerceInput(s InputSpec, v any) (any, error) {
	str, isString := v.(string)
	switch s.Type {
	case "", "any":
		return v, nil
	case "string":
		if isString {
			return str, nil
		}
		return Stringify(v), nil
	case "integer":
		switch x := v.(type) {
		case float64:
			if x != math.Trunc(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("input %q must be an integer, got %v", s.Name, x)
			}
			return exactInteger(s, x)
		case int:
			return exactInteger(s, float64(x))
		case int64:
			return exactInteger(s, float64(x))
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("input %q must be an integer, got %q", s.Name, x)
			}
			if n > maxExactInteger || n < -maxExactInteger {
				return nil, fmt.Errorf("input %q: %s is too large for an integer input (at most ±2^53, what a JSON number holds exactly); declare the input type: string", s.Name, x)
			}
			return float64(n), nil
		}
	case "number":
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				// Inputs go into history and records as JSON, which has
				// no NaN or infinity.
				return nil, fmt.Errorf("input %q must be a finite number, got %v", s.Name, x)
			}
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case string:
			n, err := strconv.ParseFloat(x, 64)
			if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
				return nil, fmt.Errorf("input %q must be a number, got %q", s.Name, x)
			}
			return n, nil
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return nil, fmt.Errorf("input %q must be true or false, got %q", s.Name, x)
			}
			return b, nil
		}
	case "object", "array":
		if isString {
			var out any
			if err := json.Unmarshal([]byte(str), &out); err != nil {
				return nil, fmt.Errorf("input %q must be JSON %s: %v", s.Name, s.Type, err)
			}
			v = out
		}
		if _, ok := v.(map[string]any); ok && s.Type == "object" {
			return v, nil
		}
		if _, ok := v.([]any); ok && s.Type == "array" {
			return v, nil
		}
	}
	return nil, fmt.Errorf("input %q must be of type %s, got %T", s.Name, s.Type, v)
}
