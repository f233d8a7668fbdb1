package flows

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// Names lists the documents of a project by kind, each sorted.
type Names struct {
	Flows       []string `json:"flows"`
	Actions     []string `json:"actions"`
	Connections []string `json:"connections"`
	Profiles    []string `json:"profiles"`
	Tests       []string `json:"tests,omitempty"`
}

// Names lists the flows, actions, connections, protocol profiles and tests.
func (p *Project) Names() Names {
	return Names{
		Flows:       sortedKeys(p.idx.flows),
		Actions:     sortedKeys(p.idx.actions),
		Connections: sortedKeys(p.idx.connections),
		Profiles:    sortedKeys(p.idx.profiles),
		Tests:       sortedKeys(p.idx.tests),
	}
}

// DocumentInfo says where a document of the project is.
type DocumentInfo struct {
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// File is relative to the project folder, with forward slashes.
	File string `json:"file"`
	Line int    `json:"line"`
}

// Documents lists the documents of the project in file and line order, so
// that a command given a file can find the flows and actions in it.
func (p *Project) Documents() []DocumentInfo {
	out := make([]DocumentInfo, 0, len(p.idx.docs))
	for _, d := range p.idx.docs {
		info := DocumentInfo{Kind: d.kind, Name: d.name, File: d.file, Line: d.at.Line}
		switch v := d.value.(type) {
		case *Flow:
			info.Description = v.Description
		case *Action:
			info.Description = v.Description
		case *Connection:
			info.Description = v.Description
		case *ProtocolProfile:
			info.Description = v.Description
		case *ProjectSettings:
			info.Description = v.Description
		case *Test:
			info.Description = v.Description
		}
		out = append(out, info)
	}
	return out
}

// Root is the absolute project folder.
func (p *Project) Root() string { return p.root }

// Settings are the project settings plans carry, with defaults applied.
func (p *Project) Settings() engine.Settings { return p.settings }

// Warnings lists what is allowed but likely wrong or unsafe, such as a
// profile that skips certificate verification.
func (p *Project) Warnings() Problems { return append(Problems(nil), p.warnings...) }

// Plan compiles the flow or action name into a plan that holds every action,
// connection and protocol profile it reaches, and nothing else.
func (p *Project) Plan(name string) (*engine.Plan, error) {
	doc, err := p.runnable(name)
	if err != nil {
		return nil, err
	}
	c := p.newCompiler()
	var plan *engine.Plan
	switch v := doc.value.(type) {
	case *Flow:
		plan = c.flowPlan(doc, v)
	case *Action:
		plan = &engine.Plan{
			Inputs:    compileInputs(doc, v.Inputs),
			Steps:     c.steps(doc, "steps", v.Steps),
			Outputs:   bindings(doc, "outputs", v.Outputs),
			OnFailure: c.onFailure(doc, v.OnFailure),
		}
	}
	c.finish(p, doc, plan)
	return plan, nil
}

// flowPlan compiles a flow's own part of its plan; finish adds the rest.
func (c *compiler) flowPlan(doc *document, v *Flow) *engine.Plan {
	plan := &engine.Plan{
		Inputs:    compileInputs(doc, v.Inputs),
		Vars:      bindings(doc, "vars", v.Vars),
		Steps:     c.steps(doc, "steps", v.Steps),
		Outputs:   bindings(doc, "outputs", v.Outputs),
		OnFailure: c.onFailure(doc, v.OnFailure),
		// HoldOnFailure: nil follows the project's (Settings).
		HoldOnFailure: v.HoldOnFailure,
	}
	for i, t := range v.Triggers {
		plan.Triggers = append(plan.Triggers, compileTrigger(doc, indexPath("triggers", i), t))
	}
	return plan
}

func (c *compiler) onFailure(doc *document, steps []Step) []engine.Step {
	if len(steps) == 0 {
		return nil
	}
	return c.steps(doc, "on_failure", steps)
}

// StepPlan compiles a plan of the flow or action name that runs only the
// step stepID, as `outflow test --step` does. The step runs whatever its
// if: says, and the plan has no outputs, since they read other steps. A step
// inside a parallel branch may be chosen; a step inside a foreach (or a
// paginated step's each_page) may not, as it needs an item (a page).
func (p *Project) StepPlan(name, stepID string) (*engine.Plan, error) {
	plan, err := p.Plan(name)
	if err != nil {
		return nil, err
	}
	st, ok, outer := findStep(plan.Steps, stepID)
	if !ok {
		if outer != nil {
			per := "item"
			for _, b := range outer.Blocks() {
				if b.Per != "" {
					per = b.Per
				}
			}
			return nil, fmt.Errorf("step %q of %s %q runs inside %s step %q, once per %s; test step %q instead", stepID, strings.ToLower(plan.Kind), name, outer.Kind(), outer.ID, per, outer.ID)
		}
		return nil, fmt.Errorf("%s %q has no step %q %s", strings.ToLower(plan.Kind), name, stepID, known(stepID, stepIDs(plan.Steps), "steps"))
	}
	one := *st
	one.If = ""
	doc, _ := p.runnable(name)
	only := &engine.Plan{Inputs: plan.Inputs, Vars: plan.Vars, Steps: []engine.Step{one}}
	p.newCompiler().finish(p, doc, only)
	return only, nil
}

// findStep finds a step by id among steps and inside the blocks that share
// their scope (parallel branches); when the step is inside a block that
// runs once per item or page, it returns the step that holds that block.
func findStep(steps []engine.Step, id string) (*engine.Step, bool, *engine.Step) {
	for i := range steps {
		st := &steps[i]
		if st.ID == id {
			return st, true, nil
		}
		for _, b := range st.Blocks() {
			if b.Per == "" {
				if s, ok, outer := findStep(b.Steps, id); ok || outer != nil {
					return s, ok, outer
				}
			} else if _, ok, _ := findStep(b.Steps, id); ok {
				return nil, false, st
			}
		}
	}
	return nil, false, nil
}

// stepIDs lists the ids StepPlan accepts.
func stepIDs(steps []engine.Step) []string {
	var ids []string
	for _, st := range steps {
		ids = append(ids, st.ID)
		for _, b := range st.Blocks() {
			if b.Per == "" {
				ids = append(ids, stepIDs(b.Steps)...)
			}
		}
	}
	return ids
}

// Profile returns the protocol profile name as plans carry it.
func (p *Project) Profile(name string) (*engine.ProtocolProfile, error) {
	doc := p.idx.profiles[name]
	if doc == nil {
		return nil, fmt.Errorf("unknown protocol profile %q %s", name, known(name, sortedKeys(p.idx.profiles), "protocol profiles"))
	}
	return compileProfile(doc), nil
}

// Connection returns the connection name as plans carry it.
func (p *Project) Connection(name string) (*engine.Connection, error) {
	doc := p.idx.connections[name]
	if doc == nil {
		return nil, fmt.Errorf("unknown connection %q %s", name, known(name, sortedKeys(p.idx.connections), "connections"))
	}
	return p.compileConnection(doc), nil
}

func (p *Project) runnable(name string) (*document, error) {
	if doc := p.idx.flows[name]; doc != nil {
		return doc, nil
	}
	if doc := p.idx.actions[name]; doc != nil {
		return doc, nil
	}
	names := append(sortedKeys(p.idx.flows), sortedKeys(p.idx.actions)...)
	if p.idx.connections[name] != nil || p.idx.profiles[name] != nil {
		return nil, fmt.Errorf("%q is not a flow or action %s", name, known(name, names, "flows or actions"))
	}
	return nil, fmt.Errorf("unknown flow or action %q %s", name, known(name, names, "flows or actions"))
}

// compiler builds one plan, compiling each action it reaches once.
type compiler struct {
	p       *Project
	actions map[string]*engine.ActionDef
	// flows holds the plans of the flows reached through flow: steps,
	// shared by the compilers of those plans; child says this compiler
	// builds one of them, which does not carry the others itself.
	flows map[string]*engine.Plan
	child bool
}

func (p *Project) newCompiler() *compiler {
	return &compiler{p: p, actions: map[string]*engine.ActionDef{}}
}

// finish fills in what every plan carries: identity, settings and the
// definitions its steps reach.
func (c *compiler) finish(p *Project, doc *document, plan *engine.Plan) {
	plan.Name = doc.name
	plan.Kind = doc.kind
	plan.Source = fmt.Sprintf("%s:%d", doc.file, doc.at.Line)
	plan.ProjectRoot = p.root
	plan.Settings = p.settings

	c.actions = map[string]*engine.ActionDef{}
	conns := map[string]bool{}
	var reach func(steps []engine.Step)
	reach = func(steps []engine.Step) {
		for i := range steps {
			st := &steps[i]
			if name := st.Connection(); name != "" {
				conns[name] = true
			}
			if k := kindNamed(st.Kind()); k != nil && k.reach != nil {
				reach(k.reach(c, st))
			}
			for _, b := range st.Blocks() {
				reach(b.Steps)
			}
		}
	}
	reach(plan.Steps)
	reach(plan.OnFailure)
	if len(c.actions) > 0 {
		plan.Actions = c.actions
	}
	if !c.child && len(c.flows) > 0 {
		plan.Flows = c.flows
	}
	for _, name := range sortedKeys(conns) {
		cn := p.compileConnection(p.idx.connections[name])
		if plan.Connections == nil {
			plan.Connections = map[string]*engine.Connection{}
		}
		plan.Connections[name] = cn
		if pd := p.idx.profiles[cn.ProtocolProfile]; pd != nil {
			if plan.Profiles == nil {
				plan.Profiles = map[string]*engine.ProtocolProfile{}
			}
			plan.Profiles[cn.ProtocolProfile] = compileProfile(pd)
		}
	}
}

// bindings turns a mapping into bindings in the order the YAML wrote it,
// since later bindings may read earlier ones.
func bindings(doc *document, p string, m map[string]any) []engine.Binding {
	if len(m) == 0 {
		return nil
	}
	out := make([]engine.Binding, 0, len(m))
	for _, k := range doc.order[p] {
		if v, ok := m[k]; ok {
			out = append(out, engine.Binding{Name: k, Value: deepCopy(v)})
		}
	}
	return out
}

// sortedBindings turns headers and query parameters into bindings sorted by
// name, so that plans compare equal however the YAML ordered them.
func sortedBindings(m Scalars) []engine.Binding {
	if len(m) == 0 {
		return nil
	}
	out := make([]engine.Binding, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, engine.Binding{Name: k, Value: m[k]})
	}
	return out
}

func compileInputs(doc *document, inputs map[string]Input) []engine.InputSpec {
	var out []engine.InputSpec
	for _, k := range doc.order["inputs"] {
		in, ok := inputs[k]
		if !ok {
			continue
		}
		out = append(out, engine.InputSpec{
			Name: k, Type: in.Type, Required: in.Required, Default: deepCopy(in.Default),
			Secret: in.Secret, Description: in.Description,
		})
	}
	return out
}

func compileTrigger(doc *document, p string, t Trigger) engine.Trigger {
	s := t.Schedule
	if s == nil {
		return engine.Trigger{Webhook: compileWebhook(doc, p+".webhook", t.Webhook)}
	}
	return engine.Trigger{Schedule: &engine.Schedule{
		Cron:           strings.TrimSpace(s.Cron),
		Every:          engine.Duration(s.Every),
		Timezone:       s.Timezone,
		Paused:         s.Paused,
		Inputs:         bindings(doc, p+".schedule.inputs", s.Inputs),
		Overlap:        s.Overlap,
		CatchupWindow:  engine.Duration(s.CatchupWindow),
		Jitter:         engine.Duration(s.Jitter),
		PauseOnFailure: s.PauseOnFailure,
	}}
}

// compileConnection resolves a connection's URL parts and defaults, so that
// the worker need not know the rules.
func (p *Project) compileConnection(doc *document) *engine.Connection {
	cn := doc.value.(*Connection)
	out := &engine.Connection{
		Name:            cn.Name,
		Source:          fmt.Sprintf("%s:%d", doc.file, doc.at.Line),
		Scheme:          cn.Scheme,
		Host:            cn.Host,
		Port:            cn.Port,
		BasePath:        cn.BasePath,
		MutualAuth:      cn.MutualAuth,
		ProtocolProfile: cn.ProtocolProfile,
		Agent:           cn.Agent,
		Headers:         sortedBindings(cn.Headers),
		Timeout:         engine.Duration(cn.Timeout),
	}
	if contains(reservedProfiles, out.ProtocolProfile) {
		// The built-in profiles are the defaults: plain TLS with system roots.
		out.ProtocolProfile = ""
	}
	if cn.URL != "" {
		if u, err := url.Parse(cn.URL); err == nil {
			out.Scheme = u.Scheme
			out.Host = u.Hostname()
			if port, err := strconv.Atoi(u.Port()); err == nil {
				out.Port = port
			}
			if path := strings.TrimRight(u.Path, "/"); path != "" {
				out.BasePath = path
			}
		}
	}
	if out.Scheme == "" {
		out.Scheme = "https"
	}
	if out.Port == 0 {
		if pd := p.idx.profiles[cn.ProtocolProfile]; pd != nil && pd.value.(*ProtocolProfile).Port != 0 {
			out.Port = pd.value.(*ProtocolProfile).Port
		} else if out.Scheme == "http" {
			out.Port = 80
		} else {
			out.Port = 443
		}
	}
	if cr := cn.Credential; cr != nil {
		ec := &engine.Credential{
			Type: cr.Type, Username: cr.Username,
			Password: secretRef(cr.Password), Token: secretRef(cr.Token), Value: secretRef(cr.Value),
			In: cr.In, Key: cr.Key,
		}
		if ec.Type == engine.OAuth2ClientCredentials {
			ec.TokenURL, ec.ClientID, ec.ClientSecret = cr.TokenURL, cr.ClientID, secretRef(cr.ClientSecret)
			ec.ClientAuth = cr.ClientAuth
			if ec.ClientAuth == "" {
				ec.ClientAuth = engine.DefaultOAuth2ClientAuth
			}
			ec.Scopes = append([]string(nil), cr.Scopes...)
			ec.Audience, ec.Resource, ec.KeyID = cr.Audience, cr.Resource, cr.KeyID
			for _, b := range sortedBindings(cr.Params) {
				ec.Params = append(ec.Params, engine.KV{Name: b.Name, Value: engine.Stringify(b.Value)})
			}
			if ks := cr.PrivateKey; ks != nil {
				ec.PrivateKey = &engine.Keystore{Path: ks.Path, Password: secretRef(ks.Password), KeyPassword: secretRef(ks.KeyPassword), Alias: ks.Alias}
			}
			ec.RefreshBefore = engine.Duration(cr.RefreshBefore)
		}
		if ec.Type == "api_key" {
			if ec.In == "" {
				ec.In = "header"
			}
			if ec.Key == "" {
				ec.Key = "X-API-Key"
			}
		}
		out.Credential = ec
	}
	return out
}

// DefaultExpiryWarning is how long before a certificate expires Outflow
// warns when a profile does not say.
const DefaultExpiryWarning = 30 * 24 * time.Hour

func compileProfile(doc *document) *engine.ProtocolProfile {
	pp := doc.value.(*ProtocolProfile)
	out := &engine.ProtocolProfile{
		Name:               pp.Name,
		Source:             fmt.Sprintf("%s:%d", doc.file, doc.at.Line),
		Port:               pp.Port,
		ServerName:         pp.ServerName,
		MinVersion:         string(pp.MinVersion),
		InsecureSkipVerify: pp.InsecureSkipVerify,
		Store:              pp.Store,
		AppliesTo:          append([]string(nil), pp.AppliesTo...),
		ExpiryWarning:      engine.Duration(pp.ExpiryWarning),
	}
	if out.MinVersion == "" {
		out.MinVersion = "1.2"
	}
	if out.Store == "" {
		out.Store = "project"
	}
	if out.ExpiryWarning == 0 {
		out.ExpiryWarning = engine.Duration(DefaultExpiryWarning)
	}
	if len(out.AppliesTo) == 0 {
		out.AppliesTo = nil
	}
	if ks := pp.Keystore; ks != nil {
		out.Keystore = compileKeystore(ks)
	}
	if ts := pp.Truststore; ts != nil {
		out.Truststore = &engine.Truststore{Paths: append([]string(nil), ts.Paths...), Password: secretRef(ts.Password), SystemRoots: ts.SystemRoots}
	}
	if rv := pp.Revocation; rv != nil {
		out.Revocation = &engine.Revocation{Mode: rv.Mode}
	}
	return out
}

func secretRef(r *SecretRef) *engine.SecretRef {
	if r == nil {
		return nil
	}
	return &engine.SecretRef{Ref: r.Secret}
}

// deepCopy copies a YAML-shaped value, so that plans never share maps with
// the project or with each other.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
