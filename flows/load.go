package flows

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/engine/yamlkit"
)

// SettingsFile is the optional file of project settings (kind: Project) at
// the root of a project folder. outflow.yml is read as well.
const SettingsFile = "outflow.yaml"

// Project is a loaded and validated project: its flows, actions, connections
// and protocol profiles, ready to compile into plans. A Project is not
// changed after Load returns, so it is safe for concurrent use.
type Project struct {
	root     string
	settings engine.Settings
	warnings Problems
	idx      *index
	wsdls    map[string]wsdlResult
	oas      *oasState // OpenAPI documents and the operations steps call (openapi_load.go)
}

// Load reads every *.yaml and *.yml file under dir, validates the project and
// returns it. Folders whose name starts with "." or "_", and folders named
// testdata, are skipped: they hold tool settings, drafts and test fixtures,
// not flows. When anything is wrong, the error is Problems, listing every
// problem found.
func Load(dir string, opts ...Option) (*Project, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("loading project %s: %w", dir, err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("loading project: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("loading project: %s is a file; give the project folder", dir)
	}
	return loadDir(root, nil, opts)
}

// loadDir loads the project folder root from the disk: all its YAML files,
// or the given ones. Project files are read through os.DirFS, which follows
// symbolic links, so WSDL and XSD files are checked to stay inside root.
func loadDir(root string, files []string, opts []Option) (*Project, error) {
	opts = append([]Option{func(l *loader) { l.dir = root }}, opts...)
	if files == nil {
		return LoadFS(os.DirFS(root), root, opts...)
	}
	return load(os.DirFS(root), root, files, opts)
}

// LoadFS is Load for a project held in fsys; root is recorded in plans as
// the project folder (engine.Plan.ProjectRoot) and should be absolute.
func LoadFS(fsys fs.FS, root string, opts ...Option) (*Project, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if name != "." && skipDir(e.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if isYAML(name) {
			files = append(files, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading project %s: %w", root, err)
	}
	if len(files) == 0 {
		return nil, Problems{{File: ".", Message: fmt.Sprintf("no *.yaml or *.yml files in %s; is this the project folder?", root)}}
	}
	return load(fsys, root, files, opts)
}

// LoadFiles loads only the given YAML files of the project folder root, as
// when a command is given a file rather than a project. Files may be
// absolute or relative to the current folder, and must be inside root.
func LoadFiles(root string, files []string, opts ...Option) (*Project, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("loading project %s: %w", root, err)
	}
	var rel []string
	for _, f := range files {
		af, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", f, err)
		}
		r, err := filepath.Rel(abs, af)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("loading %s: the file is outside the project folder %s", f, abs)
		}
		rel = append(rel, filepath.ToSlash(r))
	}
	if len(rel) == 0 {
		return nil, fmt.Errorf("loading project %s: no files given", abs)
	}
	return loadDir(abs, rel, opts)
}

func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata"
}

func isYAML(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// loader collects the documents and problems of one Load.
type loader struct {
	// webhookPaths maps each webhook path to where it is first given.
	webhookPaths map[string]string
	fsys         fs.FS
	root         string
	docs         []*document
	problems     Problems
	warnings     Problems
	wsdls        map[string]wsdlResult // by clean project-relative path, or URL and connection
	fetch        WSDLFetcher
	oas          oasState // OpenAPI documents of connections (openapi_load.go)
	// dir is the project folder on the disk when fsys reads it (Load,
	// LoadFiles): files read by name are checked not to lead out of it
	// through a symbolic link. Empty for LoadFS.
	dir     string
	realDir string // dir with its links resolved, once known
}

// Option changes how a project is loaded.
type Option func(*loader)

// WSDLFetcher fetches a WSDL given by URL, or a document it imports, through
// a connection (its credential and protocol profile). Commands that may use
// the network give one; flows itself never opens a connection.
type WSDLFetcher func(conn *engine.Connection, profile *engine.ProtocolProfile, url string) ([]byte, error)

// WithWSDLFetcher lets steps name their WSDL by URL (wsdl: https://…): it is
// fetched through the step's connection by f. Without a fetcher, a WSDL
// given by URL is read from the project's cache (wsdl.CacheDir), where a
// fetch keeps it, and is an error when it was never fetched.
func WithWSDLFetcher(f WSDLFetcher) Option {
	return func(l *loader) { l.fetch = f }
}

type wsdlResult struct {
	defs *wsdl.Definitions
	err  error
}

// wsdl parses a WSDL of the project once, however many steps use it.
// Documents it imports are read from the project too, never the network.
func (l *loader) wsdl(file string) (*wsdl.Definitions, error) {
	name := path.Clean(file)
	return l.parseWSDL(name, name, func(loc string) ([]byte, error) {
		if wsdl.IsURL(loc) || strings.Contains(loc, "://") {
			return nil, fmt.Errorf("%s is a network location, and the imports of a WSDL in the project are not fetched: "+
				"save the document in the project and import it by a path relative to the importing file, "+
				"or give the step's WSDL by URL (wsdl: https://…) so that it and its imports are fetched through the connection", loc)
		}
		loc = path.Clean(loc)
		if !fs.ValidPath(loc) {
			return nil, fmt.Errorf("%s is outside the project folder", loc)
		}
		if err := l.checkInside(loc); err != nil {
			return nil, err
		}
		return readLimitedTo(l.fsys, loc, wsdl.MaxDocumentSize)
	})
}

// checkInside refuses a project file (a slash-separated path relative to
// the project folder) that a symbolic link — the file itself or a folder on
// its way — leads out of the project folder: os.DirFS would follow it, and
// a project could read any file of the machine that loads it. A file that
// does not exist passes, for the read to report.
func (l *loader) checkInside(name string) error {
	if l.dir == "" {
		return nil
	}
	if l.realDir == "" {
		real, err := filepath.EvalSymlinks(l.dir)
		if err != nil {
			return fmt.Errorf("resolving the project folder %s: %w", l.dir, err)
		}
		l.realDir = real
	}
	real, err := filepath.EvalSymlinks(filepath.Join(l.dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolving %s: %w", name, unwrapPathError(err))
	}
	if rel, err := filepath.Rel(l.realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%s leads through a symbolic link to %s, outside the project folder; project files are read from the project only: copy the document into the project", name, real)
	}
	return nil
}

// wsdlKey is how the loader files a step's WSDL: a project file by its
// clean path, a URL with the connection it is fetched through.
func wsdlKey(loc, connection string) string {
	if wsdl.IsURL(loc) {
		return loc + " via " + connection
	}
	return path.Clean(loc)
}

// remoteWSDL reads a WSDL given by URL, and the documents it imports,
// through the connection conn, once however many steps use it.
func (l *loader) remoteWSDL(u string, conn *engine.Connection, profile *engine.ProtocolProfile) (*wsdl.Definitions, error) {
	return l.parseWSDL(wsdlKey(u, conn.Name), u, func(loc string) ([]byte, error) {
		if !wsdl.IsURL(loc) {
			return nil, fmt.Errorf("%s is not a URL; a WSDL fetched by URL can import only documents on the network", loc)
		}
		if err := wsdl.CheckFetchURL(loc, conn.Name, conn.Host, conn.Scheme, conn.Port); err != nil {
			return nil, err
		}
		if l.fetch != nil {
			return l.fetch(conn, profile, loc)
		}
		cached := path.Join(wsdl.CacheDir, wsdl.CacheName(loc))
		if err := l.checkInside(cached); err != nil {
			return nil, err
		}
		data, err := readLimitedTo(l.fsys, cached, wsdl.MaxDocumentSize)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has not been fetched yet; run `outflow soap fetch` (run, test and dev fetch it themselves)", loc)
		}
		return data, err
	})
}

// parseWSDL parses the WSDL at loc, read with read like the documents it
// imports, once per key however many steps use it.
func (l *loader) parseWSDL(key, loc string, read wsdl.Resolver) (*wsdl.Definitions, error) {
	if r, ok := l.wsdls[key]; ok {
		return r.defs, r.err
	}
	var defs *wsdl.Definitions
	data, err := read(loc)
	if err == nil {
		defs, err = wsdl.ParseLocation(loc, data, read)
	}
	if l.wsdls == nil {
		l.wsdls = map[string]wsdlResult{}
	}
	l.wsdls[key] = wsdlResult{defs, err}
	return defs, err
}

func load(fsys fs.FS, root string, files []string, opts []Option) (*Project, error) {
	l := &loader{fsys: fsys, root: root}
	for _, o := range opts {
		o(l)
	}
	sort.Strings(files)
	for _, name := range files {
		data, err := readLimited(fsys, name)
		if l.isOpenAPIDocument(name, data, err) {
			continue // a partner's API description, read when a connection names it
		}
		if err != nil {
			l.problems = append(l.problems, Problem{File: name, Message: err.Error()})
			continue
		}
		l.loadFile(name, data)
	}
	idx := l.check()
	l.problems = l.oas.dropProblemsOfDocuments(l.problems)
	if len(l.problems) > 0 {
		l.problems.Sort()
		return nil, l.problems.Dedupe()
	}
	l.warnings.Sort()
	p := &Project{root: root, warnings: l.warnings.Dedupe(), idx: idx, wsdls: l.wsdls, oas: &l.oas}
	p.settings = engine.Settings{BodyLimit: engine.DefaultBodyLimit, DefaultTaskQueue: engine.DefaultTaskQueue}
	if s := idx.settings; s != nil {
		if s.BodyLimit > 0 {
			p.settings.BodyLimit = int64(s.BodyLimit)
		}
		if s.TaskQueue != "" {
			p.settings.DefaultTaskQueue = s.TaskQueue
		}
		p.settings.HistoryLimit = s.HistoryLimit
		p.settings.RecordLimit = int64(s.RecordLimit)
		p.settings.HoldOnFailure = s.HoldOnFailure
		if s.Gateway != nil {
			p.settings.GatewayURL = s.Gateway.PublicURL
		}
	}
	return p, nil
}

// readLimited reads a YAML file, refusing one larger than MaxFileSize
// without reading all of it.
func readLimited(fsys fs.FS, name string) ([]byte, error) {
	data, err := readLimitedTo(fsys, name, MaxFileSize)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("file is larger than %d MiB; split it, a flows file this large is refused", MaxFileSize>>20)
	}
	return data, err
}

var errTooLarge = errors.New("file too large")

func readLimitedTo(fsys fs.FS, name string, limit int) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading file: %w", unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading file: %w", unwrapPathError(err))
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB: %w", name, limit>>20, errTooLarge)
	}
	return data, nil
}

// unwrapPathError drops the path a *fs.PathError repeats, since problems
// already name the file.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loadFile parses one file and decodes its documents.
func (l *loader) loadFile(name string, data []byte) {
	docs, problems := parseGuarded(name, data)
	l.problems = append(l.problems, problems...)
	for _, d := range docs {
		l.loadDocument(name, d.Body, d.Aliases)
	}
}

// guardedDoc is a document body that passed the alias and size guards.
type guardedDoc = yamlkit.Doc

// parseGuarded parses one YAML file with the guards of yamlkit.
func parseGuarded(name string, data []byte) ([]guardedDoc, Problems) {
	return yamlkit.ParseGuarded(name, data)
}

// ParseYAML parses a YAML file of Outflow's other than a project's with the
// project loader's guards (see yamlkit.ParseYAML).
var ParseYAML = yamlkit.ParseYAML

func firstLine(s string) string { return yamlkit.FirstLine(s) }

// docTypes maps each kind to its document type.
var docTypes = map[string]reflect.Type{
	KindFlow:            reflect.TypeFor[Flow](),
	KindAction:          reflect.TypeFor[Action](),
	KindConnection:      reflect.TypeFor[Connection](),
	KindProtocolProfile: reflect.TypeFor[ProtocolProfile](),
	KindProject:         reflect.TypeFor[ProjectSettings](),
	KindTest:            reflect.TypeFor[Test](),
}

func (l *loader) loadDocument(file string, body ast.Node, aliases map[*ast.AliasNode]ast.Node) {
	doc := newDocument(file)
	d := newDecoder(doc, &l.problems, aliases)
	n := d.resolve(body, "")
	at := nodePos(n)
	if at == (pos{}) {
		at = nodePos(body)
	}
	doc.setAt(at)
	var pairs []*ast.MappingValueNode
	switch x := n.(type) {
	case *ast.MappingNode:
		pairs = x.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{x}
	default:
		d.errAt(body, "", "a document must be a mapping that starts with kind and name, got %s", describe(n))
		return
	}
	var kindNode ast.Node
	for _, mv := range pairs {
		if mv == nil {
			continue
		}
		if k, ok := scalarText(d.resolve(mv.Key, "")); ok && k == "kind" {
			kindNode = d.resolve(mv.Value, "kind")
			break
		}
	}
	if kindNode == nil {
		d.errorf(doc.at, "", "missing kind; every document starts with kind: one of %s", strings.Join(kinds, ", "))
		return
	}
	kind, ok := stringValue(kindNode)
	if !ok {
		d.errAt(kindNode, "kind", "expected a kind (one of %s), got %s", strings.Join(kinds, ", "), describe(kindNode))
		return
	}
	t, ok := docTypes[kind]
	if !ok {
		d.errAt(kindNode, "kind", "unknown kind %q %s", kind, known(kind, kinds, "kinds"))
		return
	}
	v := reflect.New(t)
	d.decode(n, v.Elem(), "")
	doc.kind = kind
	doc.name = v.Elem().FieldByName("Name").String()
	doc.value = v.Interface()
	l.docs = append(l.docs, doc)
}
