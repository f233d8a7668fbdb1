package yamlkit

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Doc is a document body, with what its aliases stand for, that passed the alias and size guards.
type Doc struct {
	Body    ast.Node
	Aliases map[*ast.AliasNode]ast.Node
}

// ParseGuarded parses one YAML file. Pathological input is refused before
// each stage that it could overwhelm: nesting depth before tokenizing and
// parsing, the token budget before parsing, alias expansion before
// decoding. Documents of comments only are left out.
func ParseGuarded(name string, data []byte) ([]Doc, Problems) {
	problem := func(at pos, format string, args ...any) Problems {
		return Problems{{File: name, Line: at.Line, Col: at.Col, Message: fmt.Sprintf(format, args...)}}
	}
	if len(data) > MaxFileSize {
		return nil, problem(pos{}, "file is larger than %d MiB; split it, a file this large is refused", MaxFileSize>>20)
	}
	if line, col, deep := preScanDepth(data, 2*MaxDepth); deep {
		return nil, problem(pos{line, col}, "values nest deeper than %d levels; flatten the document", MaxDepth)
	}
	tokens := lexer.Tokenize(string(data))
	if tk, deep := tokenDepth(tokens, 2*MaxDepth); deep {
		return nil, problem(pos{tk.Position.Line, tk.Position.Column}, "values nest deeper than %d levels; flatten the document", MaxDepth)
	}
	if tk, msg := tokenBudget(tokens); tk != nil {
		return nil, problem(pos{tk.Position.Line, tk.Position.Column}, "%s", msg)
	}
	file, err := parse(tokens)
	if err != nil {
		at, msg := syntaxProblem(err)
		if q, end := unclosedQuote(tokens, at); q != nil {
			// The parser trips where the runaway text ends, lines later;
			// the mistake is where it starts.
			return nil, problem(pos{q.Position.Line, q.Position.Column},
				"invalid YAML: the quoted text that starts here is not closed on its line, so it runs on to line %d, where the parser stopped (%s); add the closing %s on line %d",
				end, strings.TrimPrefix(msg, "invalid YAML: "), quoteChar(q), q.Position.Line)
		}
		return nil, problem(at, "%s", msg)
	}
	var docs []Doc
	var problems Problems
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		switch doc.Body.(type) {
		case *ast.CommentGroupNode, *ast.CommentNode:
			continue // a document of comments only
		}
		g := newASTGuard()
		if !g.check(doc.Body) {
			p := *g.problem
			p.File = name
			problems = append(problems, p)
			continue
		}
		docs = append(docs, Doc{doc.Body, g.aliases})
	}
	return docs, problems
}

// ParseYAML parses a YAML file of Outflow's other than a project's (an
// agent's config) with the project loader's guards against nesting bombs,
// token floods and alias expansion, returning each document's body.
// Problems are positioned in name.
func ParseYAML(name string, data []byte) ([]ast.Node, Problems) {
	docs, problems := ParseGuarded(name, data)
	bodies := make([]ast.Node, len(docs))
	for i, d := range docs {
		bodies[i] = d.Body
	}
	return bodies, problems
}

// parse runs the YAML parser, turning a panic in it into an error: a parser
// bug must not take the command down with it.
func parse(tokens token.Tokens) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser failed on this file (%v); simplify the YAML near the problem", r)
		}
	}()
	return parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
}

// syntaxProblem extracts a position and a one-line message from a parser
// error.
func syntaxProblem(err error) (pos, string) {
	var se *yaml.SyntaxError
	if errors.As(err, &se) {
		at := pos{}
		if se.Token != nil && se.Token.Position != nil {
			at = pos{se.Token.Position.Line, se.Token.Position.Column}
		}
		return at, "invalid YAML: " + FirstLine(se.Message)
	}
	return pos{}, "invalid YAML: " + FirstLine(err.Error())
}

// unclosedQuote finds the quoted scalar a syntax error at `at` most likely
// comes from: one that spans lines (rare on purpose in a flow) and ends on
// the error's line or the one before it. A missing closing quote makes the
// scalar run on to the next quote, and the parser fails there. It returns
// the scalar's token and the line it ends on.
func unclosedQuote(tokens token.Tokens, at pos) (*token.Token, int) {
	if at.Line == 0 {
		return nil, 0
	}
	var found *token.Token
	foundEnd := 0
	for _, tk := range tokens {
		if tk.Position == nil || tk.Position.Line > at.Line {
			break
		}
		if tk.Type != token.DoubleQuoteType && tk.Type != token.SingleQuoteType {
			continue
		}
		lines := strings.Count(strings.TrimSpace(tk.Origin), "\n")
		if lines == 0 {
			continue
		}
		if end := tk.Position.Line + lines; end == at.Line || end == at.Line-1 {
			found, foundEnd = tk, end
		}
	}
	return found, foundEnd
}

func quoteChar(tk *token.Token) string {
	if tk.Type == token.SingleQuoteType {
		return "'"
	}
	return `"`
}

// FirstLine is the first line of s, trimmed, for one-line messages.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}
