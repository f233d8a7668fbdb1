package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Every kind field of Step has its row in stepKinds, and every row its
// field: a kind added to one and not the other would be a step nothing
// runs, or a row nothing selects.
func TestStepKindsCoverStepFields(t *testing.T) {
	if err := checkStepKinds(stepKinds()); err != nil {
		t.Fatal(err)
	}
	notKinds := map[string]bool{"id": true, "name": true, "source": true, "if": true, "poll": true,
		"retry": true, "timeout": true, "continue_on_error": true, "local": true, "regular": true, "idempotent": true,
		"fail_when": true, "retry_when": true, "hold_on_failure": true}
	typ := reflect.TypeFor[Step]()
	var fields []string
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if !notKinds[name] {
			fields = append(fields, name)
		}
	}
	if got := StepKinds(); !reflect.DeepEqual(got, fields) {
		t.Fatalf("stepKinds = %v, Step's kind fields = %v (same names, same order)", got, fields)
	}
	// Each row selects the step that sets its field, and no other row does.
	for i, name := range fields {
		var st Step
		f := reflect.ValueOf(&st).Elem().FieldByIndex(fieldIndex(typ, name))
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
		} else {
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		}
		if st.Kind() != name {
			t.Errorf("a step with %s set has kind %q", name, st.Kind())
		}
		if got := st.Kind(); got != fields[i] {
			t.Errorf("row %d: %s", i, got)
		}
	}
	if (&Step{}).Kind() != "" {
		t.Error("a step with no kind field has a kind")
	}
}

func fieldIndex(t reflect.Type, jsonName string) []int {
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == jsonName {
			return t.Field(i).Index
		}
	}
	return nil
}

func TestStepKindsTableRefusesMistakes(t *testing.T) {
	ok := waitKind()
	for _, tc := range []struct {
		kinds []stepKind
		want  string
	}{
		{[]stepKind{ok, ok}, `step kind "wait" is listed twice`},
		{[]stepKind{{is: ok.is, run: ok.run}}, "step kind 0 has no name"},
		{[]stepKind{{name: "x", is: ok.is}}, `step kind "x" lacks is or run`},
	} {
		err := checkStepKinds(tc.kinds)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkStepKinds = %v, want %q", err, tc.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate kind does not stop the program at start")
		}
	}()
	mustCheckStepKinds([]stepKind{ok, ok})
}

func TestCallsActivityAndConnection(t *testing.T) {
	for kind, want := range map[string]bool{"rest": true, "soap": true, "action": false, "foreach": false, "parallel": false, "wait": false, "nope": false} {
		if CallsActivity(kind) != want {
			t.Errorf("CallsActivity(%q) = %v", kind, !want)
		}
	}
	if c := (&Step{Soap: &SoapStep{Connection: "x"}}).Connection(); c != "x" {
		t.Errorf("soap connection = %q", c)
	}
	if c := (&Step{Wait: &WaitStep{}}).Connection(); c != "" {
		t.Errorf("wait connection = %q", c)
	}
	each := []Step{{ID: "e"}}
	st := Step{Rest: &RestStep{Paginate: &Paginate{EachPage: each}}}
	if b := st.Blocks(); len(b) != 1 || b[0].Per != "page" || b[0].Steps[0].ID != "e" {
		t.Errorf("each_page blocks = %+v", b)
	}
	st = Step{Parallel: []Branch{{ID: "a", Steps: each}, {ID: "b"}}}
	if b := st.Blocks(); len(b) != 2 || b[0].Per != "" || len(b[0].Steps) != 1 {
		t.Errorf("parallel blocks = %+v", b)
	}
}

// The activity inputs embed CallHeader, and their JSON is what it was
// when each request type listed the header's fields itself (captured from
// that code): activities already scheduled in running executions decode.
func TestCallRequestJSONUnchanged(t *testing.T) {
	conn := &Connection{Name: "c", Scheme: "https", Host: "h", Port: 443}
	prof := &ProtocolProfile{Name: "p", Port: 8443}
	h := CallHeader{WorkflowID: "wf", StepPath: "a/b", Connection: conn, Profile: prof, ProjectRoot: "/root", BodyLimit: 99, Flow: "f"}
	rr := RestRequest{CallHeader: h, Method: "POST", Path: "/x",
		Query: []KV{{"q", "1"}}, Headers: []KV{{"h", "v"}}, Body: map[string]any{"k": 1.0}, BodyType: "json", Expect: []int{200},
		IdempotencyKey: "wf/a/b", Link: "/next", LinkBase: "https://h/x"}
	h.StepPath, h.BodyLimit = "s", 7
	sr := SoapRequest{CallHeader: h, Service: "S", Port: "P", Operation: "Op",
		Body: map[string]any{"A": "b"}, SOAPHeaders: []Binding{{Name: "T", Value: "v"}}, Headers: []KV{{"h", "v"}},
		Security: &SoapSecurity{Username: "u", Password: &SecretRef{Ref: "env:X"}, PasswordType: "text"}}
	for _, tc := range []struct {
		req  any
		was  string
		into CallRequest
	}{
		{rr, `{"workflow_id":"wf","step":"a/b","connection":{"name":"c","scheme":"https","host":"h","port":443},"profile":{"name":"p","port":8443},"project_root":"/root","method":"POST","path":"/x","query":[{"name":"q","value":"1"}],"headers":[{"name":"h","value":"v"}],"body":{"k":1},"body_type":"json","expect":[200],"body_limit":99,"idempotency_key":"wf/a/b","link":"/next","link_base":"https://h/x","flow":"f"}`, &RestRequest{}},
		{sr, `{"workflow_id":"wf","step":"s","connection":{"name":"c","scheme":"https","host":"h","port":443},"profile":{"name":"p","port":8443},"project_root":"/root","definitions":null,"service":"S","port":"P","operation":"Op","body":{"A":"b"},"soap_headers":[{"name":"T","value":"v"}],"headers":[{"name":"h","value":"v"}],"security":{"username":"u","password":{"secret":"env:X"},"password_type":"text"},"body_limit":7,"flow":"f"}`, &SoapRequest{}},
	} {
		b, err := json.Marshal(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		var got, want map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.was), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("JSON changed:\n got %s\nwant %s", b, tc.was)
		}
		// An input written by the old code decodes into the new type.
		if err := json.Unmarshal([]byte(tc.was), tc.into); err != nil {
			t.Fatal(err)
		}
		if hd := tc.into.Header(); hd.WorkflowID != "wf" || hd.Flow != "f" || hd.Connection.Name != "c" || hd.BodyLimit == 0 || hd.ProjectRoot != "/root" {
			t.Errorf("header read back as %+v", hd)
		}
	}
}
