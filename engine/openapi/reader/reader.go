// Package reader reads OpenAPI 3.0, 3.1 and Swagger 2.0 documents, JSON or
// YAML, with $refs across documents, into the plain model of package
// openapi. Only the loader of a project (flows) and the commands use it;
// plans and workers carry the parsed model, never this package.
//
// It reads with github.com/pb33f/libopenapi. Compared on the real specs of
// Outflow's corpus (Swagger 2.0 JSON and split YAML, 3.0 with
// oneOf/allOf/discriminator, 3.1, two of 174 operations, a 1.4 MB spec,
// and specs with broken $refs, duplicate operationIds and colon
// parameters), libopenapi read all nine (one only through its low-level
// builder, which keeps a model beside broken $refs in extensions), where
// github.com/getkin/kin-openapi v0.153 refused three (a schema with
// `required: true`, `examples` given as a map, a 2.0 schema list) and took
// seconds on the largest. Both build with Go 1.26.8.
//
// Documents a $ref names are read through a Resolver, never directly from
// disk or network: a project reads its own files, and a document fetched
// by URL reads the documents it names through the same connection.
package reader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel"
	v2high "github.com/pb33f/libopenapi/datamodel/high/v2"
	v3high "github.com/pb33f/libopenapi/datamodel/high/v3"
	lowbase "github.com/pb33f/libopenapi/datamodel/low/base"
	v2low "github.com/pb33f/libopenapi/datamodel/low/v2"
	v3low "github.com/pb33f/libopenapi/datamodel/low/v3"
	"github.com/pb33f/libopenapi/index"
	"github.com/pb33f/libopenapi/utils"

	"github.com/outflow-dev/outflow/engine/openapi"
)

// MaxDocumentSize caps each document read; MaxDocuments caps how many
// documents one API description may span.
const (
	MaxDocumentSize = 16 << 20
	MaxDocuments    = 200
)

// Resolver reads a document: the location of one a $ref names, resolved
// against the document that names it. For a description read from a
// project, locations are slash-separated paths relative to the project
// folder; for one read by URL, absolute URLs.
type Resolver func(loc string) ([]byte, error)

// projectBase is the made-up origin under which project files are given to
// the library, so that relative $refs resolve the same way for files and
// URLs. Its host is in the .invalid domain: it never reaches a network.
const projectBase = "https://project.invalid/"

// Parse reads the API description at loc, whose content is data. What a
// document's own defects break (a $ref that does not resolve, a duplicate
// operationId) is reported in Spec.Defects; an error means no operation
// can be read at all (not OpenAPI or Swagger, not YAML or JSON).
func Parse(loc string, data []byte, read Resolver) (spec *openapi.Spec, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec, err = nil, fmt.Errorf("the OpenAPI reader failed on %s (%v); the document is too irregular to read", loc, r)
		}
	}()
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", loc, MaxDocumentSize>>20)
	}
	if !LooksLikeDescription(data) {
		return nil, fmt.Errorf("%s is not an OpenAPI or Swagger document: it has no top-level openapi: or swagger: field", loc)
	}
	virt := loc
	if !isURL(loc) {
		virt = projectBase + strings.TrimPrefix(path.Clean("/"+loc), "/")
	}
	base, err := url.Parse(virt)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid location: %w", loc, err)
	}
	f := &fetcher{read: read, virtual: !isURL(loc), host: base.Host, foreign: map[string]bool{}}
	f.scan(virt, data)
	cfg := &datamodel.DocumentConfiguration{
		SpecFilePath:                        virt,
		AllowRemoteReferences:               true,
		RemoteURLHandler:                    f.fetch,
		Logger:                              slog.New(slog.DiscardHandler),
		IgnorePolymorphicCircularReferences: true,
		IgnoreArrayCircularReferences:       true,
	}
	doc, err := libopenapi.NewDocumentWithConfiguration(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OpenAPI or Swagger document: %s", loc, firstLine(err.Error()))
	}
	info := doc.GetSpecInfo()
	if info.SpecFormat == datamodel.OAS2 {
		// Swagger 2.0 documents resolve relative $refs against BaseURL only
		// (3.x ones against SpecFilePath). BaseURL also moves absolute
		// $refs to its host, which the fetcher refuses by their paths.
		cfg.BaseURL = base.ResolveReference(&url.URL{Path: "."})
	}
	c := &converter{spec: &openapi.Spec{Version: info.Version, Schemas: map[string]*openapi.Schema{}}, names: map[string]string{}, taken: map[string]bool{}, file: loc, data: data}
	defer lowbase.SchemaQuickHashMap.Clear()
	switch info.SpecFormat {
	case datamodel.OAS2:
		low, err := v2low.CreateDocumentFromConfig(info, cfg)
		if low == nil {
			return nil, fmt.Errorf("reading %s: %s", loc, firstLine(fmt.Sprint(err)))
		}
		if n := rawPaths(info.RootNode); err != nil && n > 0 && (low.Paths.Value == nil || orderedLen(low.Paths.Value.PathItems) < n) {
			// The library drops every path when one $ref under them does
			// not resolve; without the broken $refs it keeps them.
			if neutralize(info.RootNode, brokenRefs(err)) > 0 {
				if again, err2 := v2low.CreateDocumentFromConfig(info, cfg); again != nil {
					low = again
					err = errors.Join(err, err2)
				}
			}
		}
		c.errors(err)
		c.swagger(v2high.NewSwaggerDocument(low))
	case datamodel.OAS3, datamodel.OAS31, datamodel.OAS32:
		low, err := v3low.CreateDocumentFromConfig(info, cfg)
		if low == nil {
			return nil, fmt.Errorf("reading %s: %s", loc, firstLine(fmt.Sprint(err)))
		}
		if n := rawPaths(info.RootNode); err != nil && n > 0 && (low.Paths.Value == nil || orderedLen(low.Paths.Value.PathItems) < n) {
			if neutralize(info.RootNode, brokenRefs(err)) > 0 {
				if again, err2 := v3low.CreateDocumentFromConfig(info, cfg); again != nil {
					low = again
					err = errors.Join(err, err2)
				}
			}
		}
		c.errors(err)
		c.openapi3(v3high.NewDocument(low))
	default:
		return nil, fmt.Errorf("%s is not an OpenAPI 3 or Swagger 2.0 document (version %q)", loc, info.Version)
	}
	for _, e := range f.failures() {
		c.defect(openapi.DefectInvalidRef, 0, 0, "%s", e)
	}
	c.spec.FindDefects(loc)
	c.spec.Normalize()
	return c.spec, nil
}

// LooksLikeDescription reports whether data has a swagger or openapi
// field: at the start of a line (YAML), or quoted and holding a string
// (JSON), wherever it is: JSON with sorted keys puts it last. It reads a
// megabyte in well under a millisecond.
func LooksLikeDescription(data []byte) bool {
	for _, key := range []string{"openapi", "swagger"} {
		for off := 0; ; {
			i := bytes.Index(data[off:], []byte(key))
			if i < 0 {
				break
			}
			i += off
			off = i + len(key)
			before := byte('\n')
			if i > 0 {
				before = data[i-1]
			}
			rest := data[off:]
			quoted := before == '"' || before == '\''
			if quoted {
				if len(rest) == 0 || rest[0] != before {
					continue
				}
				rest = rest[1:]
				if i > 1 {
					before = data[i-2]
				} else {
					before = '\n'
				}
			}
			rest = bytes.TrimLeft(rest, " \t")
			if len(rest) == 0 || rest[0] != ':' {
				continue
			}
			if before == '\n' || before == '\r' {
				return true // a top-level YAML key
			}
			// JSON: the key of some object, holding a string.
			if v := bytes.TrimLeft(rest[1:], " \t\r\n"); quoted && len(v) > 0 && v[0] == '"' {
				return true
			}
		}
	}
	return false
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// fetcher hands the library the documents $refs name, read through the
// Resolver.
type fetcher struct {
	read    Resolver
	virtual bool
	host    string // the root document's host
	mu      sync.Mutex
	count   int
	failed  []string
	foreign map[string]bool // paths of $refs to other hosts, never read
}

var absoluteRef = regexp.MustCompile(`\$ref["']?\s*:\s*["']?(https?://[^"'#\s,}]+)`)

// scan notes the $refs of a document that name other hosts: they are
// never followed, and each is a defect.
func (f *fetcher) scan(from string, data []byte) {
	for _, m := range absoluteRef.FindAllSubmatch(data, -1) {
		u, err := url.Parse(string(m[1]))
		if err != nil || strings.EqualFold(u.Host, f.host) {
			continue
		}
		f.mu.Lock()
		f.foreign[u.Path] = true
		f.mu.Unlock()
		shown := strings.TrimPrefix(from, projectBase)
		f.fail(fmt.Errorf("%s names %s by a $ref, on another host than the document's; it is not read (documents are read through the connection, on its host only)", shown, u.Redacted()))
	}
}

func (f *fetcher) fetch(u string) (*http.Response, error) {
	if p, err := url.Parse(u); err == nil {
		f.mu.Lock()
		foreign := f.foreign[p.Path] || !strings.EqualFold(p.Host, f.host)
		f.mu.Unlock()
		if foreign {
			return nil, fmt.Errorf("%s is on another host; not read", u)
		}
	}
	loc := u
	if f.virtual {
		if !strings.HasPrefix(u, projectBase) {
			return f.fail(fmt.Errorf("$ref %s names a network location; save the document in the project and refer to it by a relative path", u))
		}
		loc = strings.TrimPrefix(u, projectBase)
		if i := strings.IndexAny(loc, "?#"); i >= 0 {
			loc = loc[:i]
		}
		if l, err := url.PathUnescape(loc); err == nil {
			loc = l
		}
	}
	f.mu.Lock()
	f.count++
	n := f.count
	f.mu.Unlock()
	if n > MaxDocuments {
		return f.fail(fmt.Errorf("the description spans more than %d documents; %s is not read", MaxDocuments, loc))
	}
	if f.read == nil {
		return f.fail(fmt.Errorf("$ref to %s: no other document can be read here", loc))
	}
	data, err := f.read(loc)
	if err != nil {
		return f.fail(fmt.Errorf("reading %s, which a $ref names: %w", loc, err))
	}
	if len(data) > MaxDocumentSize {
		return f.fail(fmt.Errorf("%s, which a $ref names, is larger than %d MiB", loc, MaxDocumentSize>>20))
	}
	f.scan(u, data)
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(data)), ContentLength: int64(len(data))}, nil
}

func (f *fetcher) fail(err error) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	msg := err.Error()
	for _, m := range f.failed {
		if m == msg {
			return nil, err
		}
	}
	f.failed = append(f.failed, msg)
	return nil, err
}

func (f *fetcher) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failed...)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// converter turns the library's model into package openapi's.
type converter struct {
	spec  *openapi.Spec
	file  string
	data  []byte            // the root document, to find where a $ref is written
	names map[string]string // where a named schema is → its name in spec.Schemas
	taken map[string]bool
	seen  map[string]bool // defect messages already reported
}

func (c *converter) defect(kind string, line, col int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	key := kind + "\x00" + msg
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.spec.Defects = append(c.spec.Defects, openapi.Defect{Kind: kind, Message: msg, File: c.file, Line: line, Col: col})
}

var (
	quotedRef = regexp.MustCompile("(?:`|')([^`']+)(?:`|')")
	atLine    = regexp.MustCompile(`(?:line (\d+), col(?:umn)? (\d+))|\[(\d+):(\d+)\]`)
)

// errors turns the library's complaints into defects: a $ref that does not
// resolve becomes one defect naming it, wherever it is used.
func (c *converter) errors(err error) {
	for _, e := range utils.UnwrapErrors(err) {
		if e == nil {
			continue
		}
		var re *index.ResolvingError
		if errors.As(e, &re) && re.CircularReference != nil {
			continue // recursive schemas are fine: Ref keeps them finite
		}
		msg := firstLine(e.Error())
		line, col := 0, 0
		if re != nil && re.Node != nil {
			line, col = re.Node.Line, re.Node.Column
		} else if m := atLine.FindStringSubmatch(msg); m != nil {
			if m[1] != "" {
				line, _ = strconv.Atoi(m[1])
				col, _ = strconv.Atoi(m[2])
			} else {
				line, _ = strconv.Atoi(m[3])
				col, _ = strconv.Atoi(m[4])
			}
		}
		lower := strings.ToLower(msg)
		isRef := strings.Contains(lower, "does not exist") || strings.Contains(lower, "cannot be found") ||
			strings.Contains(lower, "not found") || strings.Contains(lower, "cannot resolve") || strings.Contains(lower, "unable to")
		if m := quotedRef.FindStringSubmatch(msg); isRef && m != nil {
			ref := m[1]
			if i := strings.Index(ref, "#"); i > 0 && strings.HasPrefix(ref, "/") {
				ref = ref[i:] // the library prefixes the file it looked in
			}
			ref = strings.TrimPrefix(ref, projectBase)
			line, col = c.refPos(ref)
			c.defect(openapi.DefectInvalidRef, line, col, "$ref %q does not resolve; what uses it is read as accepting any value", ref)
			continue
		}
		kind := openapi.DefectInvalid
		if isRef {
			kind = openapi.DefectInvalidRef
		}
		c.defect(kind, line, col, "%s", strings.ReplaceAll(msg, projectBase, ""))
	}
}

// refPos finds where the root document first writes $ref: ref, as the
// library does not always say.
func (c *converter) refPos(ref string) (line, col int) {
	re, err := regexp.Compile(`\$ref["']?\s*:\s*["']?` + regexp.QuoteMeta(ref) + `["'\s,}]`)
	if err != nil {
		return 0, 0
	}
	loc := re.FindIndex(c.data)
	if loc == nil {
		return 0, 0
	}
	before := c.data[:loc[0]]
	line = bytes.Count(before, []byte("\n")) + 1
	col = loc[0] - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// rawPaths counts the keys of the document's paths object.
func rawPaths(root *yaml.Node) int {
	if p := mapValue(docNode(root), "paths"); p != nil && p.Kind == yaml.MappingNode {
		return len(p.Content) / 2
	}
	return 0
}

func docNode(root *yaml.Node) *yaml.Node {
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		return root.Content[0]
	}
	return root
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func orderedLen(m interface{ Len() int }) int {
	if m == nil || reflect.ValueOf(m).IsNil() {
		return 0
	}
	return m.Len()
}

// brokenRefs lists the $refs the library could not resolve, as written.
func brokenRefs(err error) map[string]bool {
	out := map[string]bool{}
	for _, e := range utils.UnwrapErrors(err) {
		if e == nil {
			continue
		}
		for _, m := range quotedRef.FindAllStringSubmatch(e.Error(), -1) {
			ref := m[1]
			if i := strings.Index(ref, "#"); i > 0 && !strings.Contains(ref[:i], "://") && strings.HasPrefix(ref, "/") {
				ref = ref[i:]
			}
			out[ref] = true
		}
	}
	return out
}

// neutralize replaces each {$ref: R} with R broken by an empty schema, so
// that what uses it reads as accepting anything; it returns how many.
func neutralize(root *yaml.Node, broken map[string]bool) int {
	n := 0
	seen := map[*yaml.Node]bool{}
	var walk func(node *yaml.Node, depth int)
	walk = func(node *yaml.Node, depth int) {
		if node == nil || seen[node] || depth > 512 {
			return
		}
		seen[node] = true
		if node.Kind == yaml.MappingNode {
			if ref := mapValue(node, "$ref"); ref != nil && ref.Kind == yaml.ScalarNode && broken[ref.Value] {
				node.Content = nil
				n++
				return
			}
		}
		for _, c := range node.Content {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return n
}
