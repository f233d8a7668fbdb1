package wsdl

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hooklift/gowsdl"
)

// The differential test reads every committed WSDL with this package and
// with the WSDL types of github.com/hooklift/gowsdl (a widely used Go WSDL
// reader), and checks that both see the same SOAP 1.1 services: ports and
// their addresses, operations, SOAP actions, and the input and output
// messages with their parts. gowsdl is a test-only dependency; the package
// itself imports nothing of it. (Importing gowsdl's root package runs its
// init, which creates a gowsdl-cache folder in the temp dir.)
//
// Our reader deliberately reads more than gowsdl's types; each such place is
// a known difference, listed here and accounted for in the comparison:
var gowsdlKnownDifferences = []string{
	// gowsdl's types read only the SOAP 1.1 namespace
	// (http://schemas.xmlsoap.org/wsdl/soap/): a soap12:binding and a
	// soap12:address are invisible to it, so SOAP 1.2 ports are compared
	// only by name here.
	"soap12: our reader keeps SOAP 1.2 bindings and their addresses",
	// gowsdl's types record wsdl:import and leave it to the caller; our
	// reader resolves imports (relative locations, and xsd:import/include).
	// The test follows wsdl:import itself on gowsdl's side and merges the
	// documents, so services split over files still compare.
	"imports: our reader resolves wsdl:import and schema imports; gowsdl records them",
	// Our reader refuses an import that leaves the project folder or the
	// network (a project must hold the files it depends on); gowsdl's types
	// do not follow imports at all, so such a document reads for gowsdl.
	"imports outside the folder: refused by our reader",
	// Our reader keeps document order of services, ports and operations and
	// puts header parts (soap:header) apart from the body parts, honouring
	// soap:body parts="..."; the test applies the same rules to gowsdl's
	// raw messages before comparing, in order.
	"element order and body parts: ours ordered and split into body and headers",
	// encoding/xml reads UTF-8 only unless given a charset reader; our
	// reader also reads documents declared ISO-8859-1 (older SOAP stacks
	// write them). The test gives gowsdl's types a Latin-1 reader.
	"encoding: our reader reads ISO-8859-1 documents",
}

// gowsdlRefused lists committed documents our reader refuses on purpose
// while gowsdl's types read them, with the known difference that explains it.
var gowsdlRefused = map[string]string{
	"flows/testdata/invalid/soap/wsdl/importing.wsdl": "imports outside the folder: refused by our reader",
}

// diffPort is what both readers must agree on for one SOAP 1.1 port.
type diffPort struct {
	Service, Port, Address string
	Ops                    []diffOp
}

type diffOp struct {
	Name, SOAPAction string
	Input, Output    string   // message names
	InParts          []string // name:element-or-type local name, in order
	OutParts         []string
}

func TestDifferentialAgainstGowsdl(t *testing.T) {
	for _, d := range gowsdlKnownDifferences {
		if !strings.Contains(d, ":") {
			t.Fatalf("known difference %q has no label", d)
		}
	}
	root := moduleRoot(t)
	var files []string
	for _, dir := range []string{"engine/wsdl/testdata", "flows/testdata", "examples/quickstart/wsdl"} {
		files = append(files, wsdlFiles(t, filepath.Join(root, dir))...)
	}
	if len(files) == 0 {
		t.Fatal("no committed WSDL found")
	}
	shared := filepath.Join(root, "..", "shared", "corpora", "wsdl")
	if _, err := os.Stat(shared); err == nil {
		files = append(files, wsdlFiles(t, shared)...)
	} else {
		t.Logf("shared corpus skipped: %s is absent (%v)", shared, err)
	}
	imported := map[string]bool{}
	for _, f := range files {
		doc, err := readGowsdl(f)
		if err != nil {
			continue
		}
		for _, imp := range doc.Imports {
			if !IsURL(imp.Location) {
				imported[filepath.Clean(filepath.Join(filepath.Dir(f), imp.Location))] = true
			}
		}
	}
	compared, ports, soap12 := 0, 0, 0
	refusedSeen := map[string]bool{}
	for _, f := range files {
		if imported[f] {
			continue // read through its importer
		}
		rel, _ := filepath.Rel(root, f)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			ours, ourErr := Load(f)
			theirs, theirErr := gowsdlPorts(f)
			switch {
			case ourErr != nil && theirErr != nil:
				return // both refuse it (broken XML)
			case ourErr != nil:
				reason, ok := gowsdlRefused[rel]
				if !ok {
					t.Fatalf("our reader refuses what gowsdl reads: %v", ourErr)
				}
				if !knownDifference(reason) {
					t.Fatalf("refusal reason %q is not a listed known difference", reason)
				}
				refusedSeen[rel] = true
				return
			case theirErr != nil:
				t.Fatalf("gowsdl refuses what our reader reads: %v", theirErr)
			}
			if _, listed := gowsdlRefused[rel]; listed {
				t.Fatalf("listed as refused by our reader, but it reads")
			}
			got := ourPorts(ours)
			ports += len(got)
			soap12 += countSOAP12(ours)
			if !reflect.DeepEqual(got, theirs) {
				t.Errorf("readers disagree\nours:   %+v\ngowsdl: %+v", got, theirs)
			}
			compared++
		})
	}
	for rel := range gowsdlRefused {
		if !refusedSeen[rel] {
			t.Errorf("stale entry in gowsdlRefused: %s was not refused", rel)
		}
	}
	// Guard against a comparison of nothing: the corpus holds SOAP 1.1
	// ports with operations, and SOAP 1.2 ports (the known difference).
	if compared == 0 || ports == 0 || soap12 == 0 {
		t.Fatalf("compared %d documents, %d SOAP 1.1 ports, skipped %d SOAP 1.2 ports; the corpus should give all three", compared, ports, soap12)
	}
	t.Logf("%d WSDL documents compared: %d SOAP 1.1 ports agree; %d SOAP 1.2 ports read by our reader only", compared, ports, soap12)
}

func countSOAP12(d *Definitions) int {
	n := 0
	for _, s := range d.Services {
		for _, p := range s.Ports {
			if p.Binding != nil && p.Binding.SOAPVersion == SOAP12 {
				n++
			}
		}
	}
	return n
}

func knownDifference(label string) bool {
	for _, d := range gowsdlKnownDifferences {
		if d == label {
			return true
		}
	}
	return false
}

// moduleRoot walks up from the package folder to the folder of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package folder")
		}
		dir = parent
	}
}

// wsdlFiles lists the WSDL documents under dir (.wsdl, and .wsdl.xml as
// imported documents are sometimes named), sorted.
func wsdlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && (strings.HasSuffix(p, ".wsdl") || strings.HasSuffix(p, ".wsdl.xml")) {
			out = append(out, filepath.Clean(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func readGowsdl(file string) (*gowsdl.WSDL, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	w := &gowsdl.WSDL{}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = gowsdlLatin1 // the "encoding:" known difference
	if err := dec.Decode(w); err != nil {
		return nil, err
	}
	return w, nil
}

// gowsdlLatin1 decodes ISO-8859-1, whose bytes are the first 256 runes.
func gowsdlLatin1(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1":
	default:
		return nil, fmt.Errorf("charset %q is not read by the test", charset)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return strings.NewReader(sb.String()), nil
}

// gowsdlPorts reads file and the WSDL documents it imports with gowsdl's
// types and lists its SOAP 1.1 ports as diffPorts.
func gowsdlPorts(file string) ([]diffPort, error) {
	var docs []*gowsdl.WSDL
	seen := map[string]bool{}
	var read func(string) error
	read = func(f string) error {
		if seen[f] {
			return nil
		}
		seen[f] = true
		w, err := readGowsdl(f)
		if err != nil {
			return err
		}
		docs = append(docs, w)
		for _, imp := range w.Imports {
			if imp.Location == "" || IsURL(imp.Location) {
				continue
			}
			next := filepath.Clean(filepath.Join(filepath.Dir(f), imp.Location))
			if _, err := os.Stat(next); err != nil {
				continue // gowsdl's types only record the import
			}
			if err := read(next); err != nil {
				return err
			}
		}
		return nil
	}
	if err := read(file); err != nil {
		return nil, err
	}
	messages := map[string]*gowsdl.WSDLMessage{}
	portTypes := map[string]*gowsdl.WSDLPortType{}
	bindings := map[string]*gowsdl.WSDLBinding{}
	for _, w := range docs {
		for _, m := range w.Messages {
			messages[m.Name] = m
		}
		for _, p := range w.PortTypes {
			portTypes[p.Name] = p
		}
		for _, b := range w.Binding {
			bindings[b.Name] = b
		}
	}
	var out []diffPort
	for _, w := range docs {
		for _, s := range w.Service {
			for _, p := range s.Ports {
				b := bindings[local(p.Binding)]
				if b == nil || (b.SOAPBinding.Transport == "" && b.SOAPBinding.Style == "") {
					continue // not SOAP 1.1: SOAP 1.2 or HTTP, invisible to gowsdl
				}
				dp := diffPort{Service: s.Name, Port: p.Name, Address: p.SOAPAddress.Location}
				pt := portTypes[local(b.Type)]
				for _, bop := range b.Operations {
					op := diffOp{Name: bop.Name, SOAPAction: bop.SOAPOperation.SOAPAction}
					var abstract *gowsdl.WSDLOperation
					if pt != nil {
						for _, o := range pt.Operations {
							if o.Name == bop.Name {
								abstract = o
								break
							}
						}
					}
					if abstract == nil {
						return nil, fmt.Errorf("binding operation %s has no port type operation", bop.Name)
					}
					op.Input = local(abstract.Input.Message)
					op.InParts = bodyParts(messages[op.Input], bop.Input.SOAPBody.Parts, bop.Input.SOAPHeader, op.Input)
					op.Output = local(abstract.Output.Message)
					op.OutParts = bodyParts(messages[op.Output], bop.Output.SOAPBody.Parts, bop.Output.SOAPHeader, op.Output)
					dp.Ops = append(dp.Ops, op)
				}
				out = append(out, dp)
			}
		}
	}
	return out, nil
}

// bodyParts lists a message's parts that go in the SOAP body: those named by
// soap:body parts="..." when given, less those bound to a soap:header.
func bodyParts(m *gowsdl.WSDLMessage, only string, headers []*gowsdl.WSDLSOAPHeader, msgName string) []string {
	if m == nil {
		return nil
	}
	var allowed map[string]bool
	if only != "" {
		allowed = map[string]bool{}
		for _, n := range strings.Fields(only) {
			allowed[n] = true
		}
	}
	inHeader := map[string]bool{}
	for _, h := range headers {
		if local(h.Message) == msgName {
			inHeader[h.Part] = true
		}
	}
	var out []string
	for _, p := range m.Parts {
		if (allowed != nil && !allowed[p.Name]) || inHeader[p.Name] {
			continue
		}
		out = append(out, p.Name+":"+local(p.Element)+local(p.Type))
	}
	return out
}

// ourPorts lists the SOAP 1.1 ports our reader found as diffPorts.
func ourPorts(d *Definitions) []diffPort {
	var out []diffPort
	for _, s := range d.Services {
		for _, p := range s.Ports {
			if p.Binding == nil || p.Binding.SOAPVersion != SOAP11 {
				continue // SOAP 1.2: a known difference
			}
			dp := diffPort{Service: s.Name, Port: p.Name, Address: p.Address}
			for _, o := range p.Binding.Operations {
				op := diffOp{Name: o.Name, SOAPAction: o.SOAPAction}
				if o.Input != nil {
					op.Input = o.Input.Name
					op.InParts = ourParts(o.Input.Parts)
				}
				if o.Output != nil {
					op.Output = o.Output.Name
					op.OutParts = ourParts(o.Output.Parts)
				}
				dp.Ops = append(dp.Ops, op)
			}
			out = append(out, dp)
		}
	}
	return out
}

func ourParts(ps []*Part) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+":"+local(p.Element)+local(p.Type))
	}
	return out
}

// local is the local part of a QName written as prefix:local or
// {namespace}local.
func local(q string) string {
	if i := strings.LastIndexAny(q, ":}"); i >= 0 {
		return q[i+1:]
	}
	return q
}
