package yamlkit

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Limits that keep a hostile or broken YAML file from exhausting memory, CPU
// or the stack. The YAML parser recurses once per nesting level and takes
// superlinear time on deep nesting, and alias expansion can grow a small file
// exponentially ("billion laughs"), so all three are checked before the
// parser or the decoder gets to them.
const (
	// MaxFileSize is the largest YAML file the loader reads, in bytes.
	MaxFileSize = 2 << 20
	// MaxDepth is how deeply collections may nest in a document, counting
	// the values that aliases expand to.
	MaxDepth = 100
	// MaxAliasExpansion is how many values aliases may add to one document
	// when they are expanded.
	MaxAliasExpansion = 10000
	// MaxTokens is how many YAML tokens (values and punctuation, comments
	// not counted) one file may hold: the parser and decoder cost a few
	// microseconds each, so a 2 MiB list of a million numbers would take
	// seconds.
	MaxTokens = 200000
	// MaxDocuments is how many YAML documents (--- separated) one file may
	// hold: the parser's cost grows with the square of their number.
	MaxDocuments = 1000
)

// tokenBudget checks a file's token and document counts against MaxTokens
// and MaxDocuments. It returns the token that passed a limit and the problem.
func tokenBudget(tokens token.Tokens) (*token.Token, string) {
	n, docs := 0, 1
	for _, tk := range tokens {
		if tk == nil || tk.Position == nil {
			continue
		}
		switch tk.Type {
		case token.CommentType:
			continue
		case token.DocumentHeaderType:
			if n > 0 {
				docs++
			}
			if docs > MaxDocuments {
				return tk, fmt.Sprintf("the file holds more than %d YAML documents; split it into several files", MaxDocuments)
			}
		}
		n++
		if n > MaxTokens {
			return tk, fmt.Sprintf("the file holds more than %d YAML values and punctuation marks; split it into several files", MaxTokens)
		}
	}
	return nil, ""
}

// preScanDepth estimates the nesting depth of YAML text without parsing it,
// by tracking flow brackets outside quoted scalars, and block indentation
// (with compact "- " entries). It is an estimate, so the caller compares it
// with twice MaxDepth: its job is only to keep pathological input away from
// the lexer and parser, whose cost grows faster than the input. It returns
// the 1-based line and column where the estimate first passed limit.
func preScanDepth(data []byte, limit int) (line, col int, deep bool) {
	var (
		flow      int   // depth of [ and {
		indents   []int // block indentation stack
		quote     byte  // the quote character we are inside, or 0
		blockFrom = -1  // the indentation a block scalar's lines must exceed, or -1
	)
	ln := 1
	for i := 0; i < len(data); {
		// One line at a time: [i, end).
		end := i
		for end < len(data) && data[end] != '\n' {
			end++
		}
		lineText := data[i:end]
		indent := 0
		for indent < len(lineText) && lineText[indent] == ' ' {
			indent++
		}
		blank := indent == len(lineText) || lineText[indent] == '#' || lineText[indent] == '\r'
		if blockFrom >= 0 {
			if blank || indent > blockFrom {
				i = end + 1
				ln++
				continue
			}
			blockFrom = -1
		}
		j := indent
		if quote == 0 && flow == 0 && !blank {
			// Block structure: the line's indentation and every compact "- "
			// or "? " indicator open a level.
			cols := []int{indent}
			for j+1 < len(lineText) && (lineText[j] == '-' || lineText[j] == '?') && (lineText[j+1] == ' ' || lineText[j+1] == '\t') {
				j += 2
				for j < len(lineText) && lineText[j] == ' ' {
					j++
				}
				cols = append(cols, j)
			}
			for _, c := range cols {
				for len(indents) > 0 && indents[len(indents)-1] >= c {
					indents = indents[:len(indents)-1]
				}
				indents = append(indents, c)
				if len(indents) > limit {
					return ln, c + 1, true
				}
			}
		}
		prev := byte(' ')
		for ; j < len(lineText); j++ {
			c := lineText[j]
			switch {
			case quote == '"':
				if c == '\\' {
					j++
				} else if c == '"' {
					quote = 0
				}
			case quote == '\'':
				if c == '\'' {
					if j+1 < len(lineText) && lineText[j+1] == '\'' {
						j++
					} else {
						quote = 0
					}
				}
			case c == '#' && (prev == ' ' || prev == '\t'):
				j = len(lineText) // a comment runs to the end of the line
			case (c == '"' || c == '\'') && startsToken(prev):
				quote = c
			case c == '[' || c == '{':
				flow++
				if flow+len(indents) > limit {
					return ln, j + 1, true
				}
			case c == ']' || c == '}':
				if flow > 0 {
					flow--
				}
			}
			prev = c
		}
		if quote == 0 && flow == 0 && isBlockScalarHeader(lineText) {
			blockFrom = indent
		}
		i = end + 1
		ln++
	}
	return 0, 0, false
}

// startsToken reports whether a quote after prev opens a quoted scalar: YAML
// quotes only do at the start of a token, so the apostrophe in `it's` does not.
func startsToken(prev byte) bool {
	switch prev {
	case ' ', '\t', ':', '-', '[', '{', ',', '?', '!', '&':
		return true
	}
	return false
}

// isBlockScalarHeader reports whether a line ends with a block scalar
// indicator (| or >, with optional chomping and indentation indicators),
// after which more-indented lines are text.
func isBlockScalarHeader(line []byte) bool {
	// Drop a trailing comment and spaces.
	end := len(line)
	for k := 0; k < len(line); k++ {
		if line[k] == '#' && k > 0 && (line[k-1] == ' ' || line[k-1] == '\t') {
			end = k
			break
		}
	}
	for end > 0 && (line[end-1] == ' ' || line[end-1] == '\t' || line[end-1] == '\r') {
		end--
	}
	k := end
	for k > 0 && (line[k-1] == '+' || line[k-1] == '-' || (line[k-1] >= '0' && line[k-1] <= '9')) {
		k--
	}
	if k == 0 || (line[k-1] != '|' && line[k-1] != '>') {
		return false
	}
	return k == 1 || line[k-2] == ' ' || line[k-2] == '\t'
}

// tokenDepth measures nesting from the lexer's tokens, which classify quotes,
// comments and block scalars exactly, before the parser recurses into them.
// It returns the first token at which the depth passed limit.
func tokenDepth(tokens token.Tokens, limit int) (*token.Token, bool) {
	flow := 0
	var indents []int
	var prev *token.Token
	for _, tk := range tokens {
		if tk == nil || tk.Position == nil {
			continue
		}
		switch tk.Type {
		case token.CommentType:
			continue
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		default:
			if flow > 0 {
				break
			}
			lineStart := prev == nil || prev.Position.Line != tk.Position.Line
			afterIndicator := prev != nil && (prev.Type == token.SequenceEntryType || prev.Type == token.MappingKeyType)
			if lineStart || afterIndicator {
				c := tk.Position.Column
				for len(indents) > 0 && indents[len(indents)-1] >= c {
					indents = indents[:len(indents)-1]
				}
				indents = append(indents, c)
			}
		}
		if flow+len(indents) > limit {
			return tk, true
		}
		prev = tk
	}
	return nil, false
}

// astGuard walks a parsed document before it is decoded: it resolves every
// alias to its anchor, measures depth with aliases expanded, and counts the
// values aliases add, so the decoder never expands a bomb.
type astGuard struct {
	anchors  map[string]ast.Node
	aliases  map[*ast.AliasNode]ast.Node
	measured map[ast.Node]measure
	added    int // values added by alias expansion so far
	problem  *Problem
}

type measure struct{ size, height int }

func newASTGuard() *astGuard {
	return &astGuard{
		anchors:  map[string]ast.Node{},
		aliases:  map[*ast.AliasNode]ast.Node{},
		measured: map[ast.Node]measure{},
	}
}

// check walks body; it returns false and sets g.problem when the document
// must not be decoded.
func (g *astGuard) check(body ast.Node) bool {
	g.walk(body, 1)
	return g.problem == nil
}

func (g *astGuard) fail(n ast.Node, format string, args ...any) {
	if g.problem != nil {
		return
	}
	p := NodePos(n)
	g.problem = &Problem{Line: p.Line, Col: p.Col, Message: fmt.Sprintf(format, args...)}
}

// walk visits n at depth (the root is 1) in document order, so that anchors
// are known before the aliases that follow them, and returns n's size and
// height with aliases expanded.
func (g *astGuard) walk(n ast.Node, depth int) measure {
	if n == nil || g.problem != nil {
		return measure{}
	}
	if depth > MaxDepth {
		g.fail(n, "values nest deeper than %d levels; flatten the document", MaxDepth)
		return measure{}
	}
	var m measure
	switch x := n.(type) {
	case *ast.AnchorNode:
		m = g.walk(x.Value, depth)
		if name := anchorName(x.Name); name != "" {
			g.anchors[name] = x.Value
		}
	case *ast.AliasNode:
		name := anchorName(x.Value)
		target, ok := g.anchors[name]
		if !ok {
			// The name is not repeated: an unquoted password that starts
			// with * reads as an alias.
			g.fail(x, "this alias (*) refers to no anchor; define the anchor (&) on a value before the alias, in the same document, or quote the value if it is text that starts with *")
			return measure{}
		}
		g.aliases[x] = target
		m = g.measured[target]
		if depth-1+m.height > MaxDepth {
			g.fail(x, "alias *%s makes values nest deeper than %d levels", name, MaxDepth)
			return measure{}
		}
		g.added += m.size
		if g.added > MaxAliasExpansion {
			g.fail(x, "aliases expand to more than %d values in this document; repeat less (an alias bomb is refused)", MaxAliasExpansion)
			return measure{}
		}
		return m
	case *ast.TagNode:
		m = g.walk(x.Value, depth)
	case *ast.MappingKeyNode:
		m = g.walk(x.Value, depth)
	case *ast.MappingNode:
		m = g.walkPairs(x.Values, depth)
	case *ast.MappingValueNode:
		m = g.walkPairs([]*ast.MappingValueNode{x}, depth)
	case *ast.SequenceNode:
		m = measure{size: 1, height: 1}
		for _, v := range x.Values {
			c := g.walk(v, depth+1)
			m.size = addCapped(m.size, c.size)
			m.height = max(m.height, c.height+1)
		}
	default:
		m = measure{size: 1, height: 1}
	}
	g.measured[n] = m
	return m
}

func (g *astGuard) walkPairs(pairs []*ast.MappingValueNode, depth int) measure {
	m := measure{size: 1, height: 1}
	for _, mv := range pairs {
		if mv == nil {
			continue
		}
		k := g.walk(mv.Key, depth+1)
		v := g.walk(mv.Value, depth+1)
		m.size = addCapped(m.size, addCapped(k.size, v.size))
		m.height = max(m.height, k.height+1, v.height+1)
	}
	return m
}

// addCapped adds sizes without overflowing: a size past the expansion limit
// is refused anyway.
func addCapped(a, b int) int {
	const capSize = 1 << 40
	if a+b > capSize {
		return capSize
	}
	return a + b
}

func anchorName(n ast.Node) string {
	if n == nil {
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}
