package worker

import (
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/yamlkit"
)

// The agent config is decoded by the project decoder (yamlkit.Decoding): the
// same YAML rules, words and positions as a project's files, every problem
// at once. This file holds what is the config's own: its checker, which
// adds warnings to the decoder's problems, and the values that decode
// themselves.

// cfgDecoder is a decoded agent config's positions and problems, and the
// warnings of its checks.
type cfgDecoder struct {
	*yamlkit.Decoding
	file     string
	warnings yamlkit.Problems
}

func newCfgDecoder(file string) *cfgDecoder {
	return &cfgDecoder{Decoding: yamlkit.NewDecoding(file), file: file}
}

func (d *cfgDecoder) warnf(at yamlkit.Position, path, format string, args ...any) {
	d.warnings = append(d.warnings, yamlkit.Problem{File: d.file, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
}

// DecodeYAML reads {secret: REF}, refusing a secret written in place.
func (s *SecretRef) DecodeYAML(d *yamlkit.Decoding, n ast.Node, path string) {
	if str, ok := yamlkit.StringValue(n); ok {
		// Repeat the text only when it is a reference: otherwise it is
		// likely the secret itself.
		switch {
		case engine.IsSecretRef(str):
			d.ErrAt(n, path, "write secrets by reference as {secret: %s}", str)
		default:
			d.ErrAt(n, path, "write secrets by reference, such as {secret: env:NAME}; the config never holds a secret itself")
		}
		return
	}
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		// A number is as likely the secret itself (a PIN) as a string is.
		d.ErrAt(n, path, "write secrets by reference, such as {secret: env:NAME}; the config never holds a secret itself")
		return
	}
	type plain SecretRef
	d.Decode(n, (*plain)(s), path)
	sp := path + ".secret"
	switch {
	case s.Ref == "" && !d.Troubled(sp):
		d.Errorf(d.ValPos(path), sp, "missing secret: the reference, such as {secret: env:NAME}")
	case s.Ref != "":
		scheme, rest, _ := strings.Cut(s.Ref, ":")
		switch {
		case engine.SecretSchemeOf(scheme) == nil:
			d.Errorf(d.ValPos(sp), sp, "%q has no known provider; write %s", s.Ref, engine.SecretForms())
		case rest == "":
			d.Errorf(d.ValPos(sp), sp, "%q names nothing after %s:", s.Ref, scheme)
		}
	}
}

// DecodeYAML reads a duration such as 30s or 5m, or 0.
func (du *Duration) DecodeYAML(d *yamlkit.Decoding, n ast.Node, path string) {
	s, ok := yamlkit.StringValue(n)
	if !ok {
		if i, isInt := n.(*ast.IntegerNode); isInt && i.GetToken().Value == "0" {
			*du = 0
			return
		}
		d.ErrAt(n, path, "expected a duration such as 30s or 5m, got %s", yamlkit.Describe(n))
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.ErrAt(n, path, "%q is not a duration such as 30s or 5m", s)
		return
	}
	*du = Duration(v)
}
