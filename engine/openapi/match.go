package openapi

import (
	"regexp"
	"strings"
)

// exprMark stands for an expression in a masked path: its value is known
// only at run time, so it may fill any part of a segment.
const exprMark = "\x00"

// MaskExpressions replaces each ${{ ... }} of a template with one mark
// byte, so that slashes or question marks inside an expression do not
// split the path.
func MaskExpressions(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(exprMark)
		s = s[i+j+2:]
	}
}

// Match is what a hand-written method and path call in a spec.
type Match struct {
	// Op is the operation called; nil when the path or the method is not
	// in the spec.
	Op *Operation
	// PathOps are the operations of the path the step's path matched, of
	// any method; empty when no path matched.
	PathOps []*Operation
}

// Match finds the operation that method and path (a step's path below the
// connection's base path, possibly with expressions and a query string)
// call.
func (s *Spec) Match(method, path string) Match {
	segs := stepSegments(path)
	bestScore := -1
	var best string
	for _, op := range s.Operations {
		score, ok := matchSegments(templateSegments(op.Path), segs)
		if ok && score > bestScore {
			bestScore, best = score, op.Path
		}
	}
	if bestScore < 0 {
		return Match{}
	}
	var m Match
	for _, op := range s.Operations {
		if op.Path != best {
			continue
		}
		m.PathOps = append(m.PathOps, op)
		if strings.EqualFold(op.Method, method) && m.Op == nil {
			m.Op = op
		}
	}
	return m
}

// Paths lists the distinct paths of the spec in document order.
func (s *Spec) Paths() []string {
	seen := map[string]bool{}
	var out []string
	for _, op := range s.Operations {
		if !seen[op.Path] {
			seen[op.Path] = true
			out = append(out, op.Path)
		}
	}
	return out
}

// stepSegments splits a step's path into segments, expressions masked and
// the query string left out.
func stepSegments(p string) []string {
	p = MaskExpressions(p)
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return splitPath(p)
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// tmplSegment is one segment of a spec path: a regular expression that
// matches the text a step may write there, and whether it holds a parameter.
type tmplSegment struct {
	literal string
	re      *regexp.Regexp
	param   bool
}

var paramInSegment = regexp.MustCompile(`\{[^/{}]*\}`)

func templateSegments(p string) []tmplSegment {
	parts := splitPath(p)
	out := make([]tmplSegment, len(parts))
	for i, seg := range parts {
		switch {
		case strings.HasPrefix(seg, ":") && len(seg) > 1:
			// A colon parameter (/tasks/:taskUid), a style some specs use by mistake.
			out[i] = tmplSegment{literal: seg, re: regexp.MustCompile(`^[^/]+$`), param: true}
		case strings.Contains(seg, "{"):
			var b strings.Builder
			b.WriteString("^")
			last := 0
			for _, loc := range paramInSegment.FindAllStringIndex(seg, -1) {
				b.WriteString(regexp.QuoteMeta(seg[last:loc[0]]))
				b.WriteString(`[^/]+`)
				last = loc[1]
			}
			b.WriteString(regexp.QuoteMeta(seg[last:]))
			b.WriteString("$")
			re, err := regexp.Compile(b.String())
			if err != nil {
				re = regexp.MustCompile(`^` + regexp.QuoteMeta(seg) + `$`)
			}
			out[i] = tmplSegment{literal: seg, re: re, param: true}
		default:
			out[i] = tmplSegment{literal: seg}
		}
	}
	return out
}

// matchSegments reports whether a step's segments fit a template's, and
// how well: a literal segment written out counts most, so /pets/mine
// prefers /pets/mine over /pets/{id}.
func matchSegments(tmpl []tmplSegment, segs []string) (int, bool) {
	if len(tmpl) != len(segs) {
		return 0, false
	}
	score := 0
	for i, t := range tmpl {
		s := segs[i]
		hasExpr := strings.Contains(s, exprMark)
		switch {
		case !t.param && s == t.literal:
			score += 3
		case !t.param && hasExpr:
			if !markPattern(s).MatchString(t.literal) {
				return 0, false
			}
		case t.param && !hasExpr:
			if !t.re.MatchString(s) {
				return 0, false
			}
			score++
		case t.param && hasExpr:
			score += 2
		default:
			return 0, false
		}
	}
	return score, true
}

// markPattern turns a masked segment into a pattern in which each
// expression matches any text.
func markPattern(s string) *regexp.Regexp {
	parts := strings.Split(s, exprMark)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// PathParams lists the names of the parameters in a spec path's template,
// {name} and :name alike, in order.
func PathParams(p string) []string {
	var out []string
	for _, seg := range splitPath(p) {
		if strings.HasPrefix(seg, ":") && len(seg) > 1 {
			out = append(out, seg[1:])
			continue
		}
		for _, m := range paramInSegment.FindAllString(seg, -1) {
			out = append(out, m[1:len(m)-1])
		}
	}
	return out
}

// FillPath writes values into a spec path's template: {name} and :name
// are replaced by value(name). Names value does not know are left as
// written.
func FillPath(p string, value func(name string) (string, bool)) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, ":") && len(seg) > 1 {
			if v, ok := value(seg[1:]); ok {
				segs[i] = v
			}
			continue
		}
		segs[i] = paramInSegment.ReplaceAllStringFunc(seg, func(m string) string {
			if v, ok := value(m[1 : len(m)-1]); ok {
				return v
			}
			return m
		})
	}
	return strings.Join(segs, "/")
}
