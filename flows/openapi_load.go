package flows

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/openapi/reader"
)

// OpenAPIFetcher fetches an OpenAPI document given by URL, or a document it
// refers to, through a connection (its credential and protocol profile).
// Commands that may use the network give one; flows itself never opens a
// connection.
type OpenAPIFetcher func(conn *engine.Connection, profile *engine.ProtocolProfile, url string) ([]byte, error)

// WithOpenAPIFetcher lets connections name their OpenAPI document by URL
// (openapi: https://…): it is fetched through the connection by f. Without
// a fetcher, a document given by URL is read from the project's cache
// (openapi.CacheDir), where a fetch keeps it, and is an error when it was
// never fetched.
func WithOpenAPIFetcher(f OpenAPIFetcher) Option {
	return func(l *loader) { l.oas.fetch = f }
}

// oasState holds the OpenAPI documents of one load: each parsed once, by
// location, and the operation each REST step calls.
type oasState struct {
	fetch  OpenAPIFetcher
	docs   map[string]oasResult      // by clean project path, or URL and connection
	byConn map[string]*openapi.Spec  // connection name → its document, when it loaded
	steps  map[oasStepKey]*oasStepOp // REST step → the operation it calls
	files  map[string]bool           // project files read as parts of OpenAPI documents
}

type oasResult struct {
	spec *openapi.Spec
	err  error
}

type oasStepKey struct {
	doc  *document
	path string // the step's path, such as steps[2]
}

// oasStepOp is the operation a REST step calls.
type oasStepOp struct {
	spec *openapi.Spec
	op   *openapi.Operation
	rest *RestStep
}

func (s *oasState) parse(key, loc string, read reader.Resolver) (*openapi.Spec, error) {
	if r, ok := s.docs[key]; ok {
		return r.spec, r.err
	}
	var spec *openapi.Spec
	data, err := read(loc)
	if err == nil {
		spec, err = reader.Parse(loc, data, read)
	}
	if s.docs == nil {
		s.docs = map[string]oasResult{}
	}
	s.docs[key] = oasResult{spec, err}
	return spec, err
}

func (s *oasState) spec(connection string) *openapi.Spec {
	if s == nil {
		return nil
	}
	return s.byConn[connection]
}

func (s *oasState) stepOp(doc *document, stepPath string) *oasStepOp {
	if s == nil {
		return nil
	}
	return s.steps[oasStepKey{doc, stepPath}]
}

// projectOpenAPI parses an OpenAPI document of the project; the documents
// its $refs name are read from the project too, never the network.
func (l *loader) projectOpenAPI(file string) (*openapi.Spec, error) {
	name := path.Clean(file)
	return l.oas.parse(name, name, func(loc string) ([]byte, error) {
		loc = path.Clean(loc)
		if !fs.ValidPath(loc) {
			return nil, fmt.Errorf("%s is outside the project folder", loc)
		}
		if err := l.checkInside(loc); err != nil {
			return nil, err
		}
		if l.oas.files == nil {
			l.oas.files = map[string]bool{}
		}
		l.oas.files[loc] = true
		return readLimitedTo(l.fsys, loc, reader.MaxDocumentSize)
	})
}

// remoteOpenAPI reads an OpenAPI document given by URL, and the documents
// it refers to, through the connection conn.
func (l *loader) remoteOpenAPI(u string, conn *engine.Connection, profile *engine.ProtocolProfile) (*openapi.Spec, error) {
	return l.oas.parse(u+" via "+conn.Name, u, func(loc string) ([]byte, error) {
		if !openapi.IsURL(loc) {
			return nil, fmt.Errorf("%s is not a URL; a document fetched by URL can refer only to documents on the network", loc)
		}
		if err := openapi.CheckFetchURL(loc, conn.Name, conn.Host, conn.Scheme, conn.Port); err != nil {
			return nil, err
		}
		if l.oas.fetch != nil {
			return l.oas.fetch(conn, profile, loc)
		}
		data, err := readLimitedTo(l.fsys, path.Join(openapi.CacheDir, openapi.CacheName(loc)), reader.MaxDocumentSize)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has not been fetched yet; run `outflow openapi fetch` (validate, run, test and dev fetch it themselves)", loc)
		}
		return data, err
	})
}

// checkConnectionOpenAPI reads the connection's OpenAPI document and
// reports its defects as warnings.
func (c *checker) checkConnectionOpenAPI(doc *document, cn *Connection) {
	if cn.OpenAPI == "" {
		if cn.OpenAPIStrict {
			c.warnf(doc, doc.keyPos("openapi_strict"), "openapi_strict", "openapi_strict has no effect without openapi: (the connection's OpenAPI document)")
		}
		return
	}
	const p = "openapi"
	at := doc.valPos(p)
	var spec *openapi.Spec
	var err error
	file := ""
	switch {
	case openapi.IsURL(cn.OpenAPI):
		conn := (&Project{idx: c.idx}).compileConnection(doc)
		if err := openapi.CheckFetchURL(cn.OpenAPI, conn.Name, conn.Host, conn.Scheme, conn.Port); err != nil {
			c.errorf(doc, at, p, "%v", err)
			return
		}
		var profile *engine.ProtocolProfile
		if pd := c.idx.profiles[conn.ProtocolProfile]; pd != nil && conn.ProtocolProfile != "" {
			profile = compileProfile(pd)
		}
		spec, err = c.l.remoteOpenAPI(cn.OpenAPI, conn, profile)
	case strings.Contains(cn.OpenAPI, "://"):
		c.errorf(doc, at, p, "openapi must be a file in the project or an http(s) URL fetched through the connection")
		return
	default:
		before := len(c.l.problems)
		c.checkProjectPath(doc, p, cn.OpenAPI, "give a path relative to the project folder, or an https URL")
		if len(c.l.problems) != before {
			return
		}
		if _, err := fs.Stat(c.l.fsys, path.Clean(cn.OpenAPI)); err != nil {
			c.errorf(doc, at, p, "openapi file %q is not in the project folder", cn.OpenAPI)
			return
		}
		file = path.Clean(cn.OpenAPI)
		spec, err = c.l.projectOpenAPI(cn.OpenAPI)
	}
	if err != nil {
		c.errorf(doc, at, p, "reading the OpenAPI document: %v", err)
		return
	}
	if c.l.oas.byConn == nil {
		c.l.oas.byConn = map[string]*openapi.Spec{}
	}
	c.l.oas.byConn[cn.Name] = spec
	c.reportDefects(doc, cn, spec, file)
}

// groupedDefects are the kinds reported once per document, with a count:
// a document without operationIds has dozens.
var groupedDefects = map[string]string{
	openapi.DefectMissingOperationID: "operations have no operationId; steps call them with method: and path:",
	openapi.DefectIgnoredHeaderParam: "header parameters are Accept, Content-Type or Authorization, which OpenAPI 3 says to ignore; they are left out",
}

// reportDefects warns of what is wrong with a connection's document: in
// the document itself when it is a project file, else at openapi:.
func (c *checker) reportDefects(doc *document, cn *Connection, spec *openapi.Spec, file string) {
	warn := func(d openapi.Defect, msg string) {
		if file != "" {
			c.l.warnings = append(c.l.warnings, Problem{File: file, Line: d.Line, Col: d.Col, Message: msg})
			return
		}
		where := cn.OpenAPI
		if d.Line > 0 {
			where = fmt.Sprintf("%s:%d:%d", cn.OpenAPI, d.Line, d.Col)
		}
		c.warnf(doc, doc.valPos("openapi"), "openapi", "%s: %s", where, msg)
	}
	groups := map[string][]openapi.Defect{}
	for _, d := range spec.Defects {
		if _, grouped := groupedDefects[d.Kind]; grouped {
			groups[d.Kind] = append(groups[d.Kind], d)
			continue
		}
		warn(d, d.Message)
	}
	for _, kind := range sortedKeys(groups) {
		ds := groups[kind]
		if len(ds) == 1 {
			warn(ds[0], ds[0].Message)
			continue
		}
		var ex []string
		for _, d := range ds[:min(3, len(ds))] {
			ex = append(ex, strings.SplitN(d.Message, ";", 2)[0])
		}
		sort.Strings(ex)
		warn(ds[0], fmt.Sprintf("%d %s (%s, ...)", len(ds), groupedDefects[kind], strings.Join(ex, "; ")))
	}
}

// isOpenAPIDocument reports whether a YAML file of the project is the root
// of an OpenAPI document rather than Outflow documents: it has a top-level
// openapi: or swagger: and no kind:. Such files are read only when a
// connection names them. A file too large for a flows file is sniffed by
// its head.
func (l *loader) isOpenAPIDocument(name string, data []byte, err error) bool {
	if errors.Is(err, errTooLarge) {
		f, oerr := l.fsys.Open(name)
		if oerr != nil {
			return false
		}
		defer f.Close()
		head := make([]byte, 64<<10)
		n, _ := io.ReadFull(f, head)
		data = head[:n]
	} else if err != nil {
		return false
	}
	return reader.LooksLikeDescription(data) && !bytes.HasPrefix(data, []byte("kind:")) && !bytes.Contains(data, []byte("\nkind:"))
}

// dropProblemsOfDocuments leaves out what the project loader said of YAML
// files that are parts of a connection's OpenAPI document (a schema file a
// $ref names): they hold no Outflow documents, and the OpenAPI reader
// reports their own defects.
func (s *oasState) dropProblemsOfDocuments(ps Problems) Problems {
	if len(s.files) == 0 {
		return ps
	}
	out := ps[:0]
	for _, p := range ps {
		if !s.files[p.File] {
			out = append(out, p)
		}
	}
	return out
}

// OpenAPI returns the OpenAPI document of the connection named connection
// and where it names it (openapi:), or nil and "" when it names none.
func (p *Project) OpenAPI(connection string) (*openapi.Spec, string) {
	cd := p.idx.connections[connection]
	if cd == nil {
		return nil, ""
	}
	cn, _ := cd.value.(*Connection)
	if cn == nil || cn.OpenAPI == "" {
		return nil, ""
	}
	return p.oas.spec(connection), cn.OpenAPI
}

// GenerateActions makes an action per operation of the OpenAPI document of
// the connection named connection (see GenerateActions): parameters the
// connection sends itself (its headers, an api_key credential) are not
// asked for.
func (p *Project) GenerateActions(connection string, opts GenerateOptions) ([]GeneratedAction, error) {
	cd := p.idx.connections[connection]
	if cd == nil {
		return nil, fmt.Errorf("unknown connection %q %s", connection, known(connection, sortedKeys(p.idx.connections), "connections"))
	}
	cn := cd.value.(*Connection)
	spec := p.oas.spec(connection)
	if cn.OpenAPI == "" || spec == nil {
		return nil, fmt.Errorf("connection %q names no OpenAPI document; add openapi: (a project file or URL) to it at %s:%d", connection, cd.file, cd.at.Line)
	}
	given := map[string]bool{}
	for k := range cn.Headers {
		given["header\x00"+strings.ToLower(k)] = true
	}
	if cr := cn.Credential; cr != nil {
		switch cr.Type {
		case "api_key":
			key, in := cr.Key, "header"
			if key == "" {
				key = "X-API-Key"
			}
			if cr.In == "query" {
				in = "query"
			}
			given[in+"\x00"+strings.ToLower(key)] = true
		default:
			given["header\x00authorization"] = true
		}
	}
	for k, v := range opts.Given {
		given[k] = v
	}
	opts.Given = given
	if opts.Source == "" {
		opts.Source = cn.OpenAPI
	}
	return GenerateActions(spec, connection, opts), nil
}
