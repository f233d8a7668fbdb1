package flows

import (
	"fmt"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// Step is one step of a flow or action. It does exactly one of: a REST call
// (`rest`), a SOAP call (`soap`), an action call (`action` with `with`), a
// loop (`foreach` with `steps`), branches that run at the same time
// (`parallel`), or a durable pause (`wait`).
type Step struct {
	// Names the step within its flow or action; later steps read its results
	// as `steps.ID`. Letters, digits and underscores, not starting with a digit.
	ID string `yaml:"id" jsonschema:"required,pattern=^[A-Za-z_][A-Za-z0-9_]*$"`
	// A human-readable label for execution records.
	Name string `yaml:"name,omitempty"`
	// Run the step only when this expression is true, such as `${{ inputs.full_sync }}`.
	// A skipped step has status `skipped`.
	If Condition `yaml:"if,omitempty"`
	// How failed attempts are retried. Default: 5 attempts, from 1s doubling up to 1m.
	Retry *Retry `yaml:"retry,omitempty"`
	// How long one attempt may take. Default: the connection's timeout, else 1m.
	Timeout Duration `yaml:"timeout,omitempty"`
	// A failure of this step does not fail the flow; later steps can read
	// `steps.ID.status` and `steps.ID.error`. On a foreach or parallel step it
	// also lets every item or branch run to its end when one fails (without
	// it, the first failure cancels the others); the step then reports the
	// first failure.
	ContinueOnError bool `yaml:"continue_on_error,omitempty"`
	// How a rest or soap call runs. Unset (the default): a call that is safe
	// to repeat (GET, HEAD, OPTIONS, PUT, DELETE, or idempotent: true) on a
	// connection without an agent takes the automatic fast path: its first
	// attempt runs as a local activity on the flow's worker within a few
	// seconds, and continues as a regular activity with the retry policy
	// when it fails or takes longer. true: always a Temporal local activity,
	// every attempt on the flow's worker (about ten times faster per step,
	// but retries restart the call without a new history event, and the
	// step cannot go to an agent; only for calls that are safe to repeat).
	// false: always a regular activity, each attempt in the history.
	Local bool `yaml:"local,omitempty"`
	// When this rest or soap step fails after its retries, the execution does
	// not fail: it waits in status `held`, with the step's error, until an
	// operator decides with `outflow executions resume ID --retry | --skip |
	// --fail`. A held execution waits without growing its history. Default:
	// the flow's `hold_on_failure`, else the project's (`outflow.yaml`).
	HoldOnFailure *bool `yaml:"hold_on_failure,omitempty"`
	// Mark a rest or soap call as safe to repeat whatever its method (a POST
	// the partner deduplicates by its Idempotency-Key, a SOAP query), so
	// that it may take the automatic fast path.
	Idempotent bool `yaml:"idempotent,omitempty"`

	// The kinds and the keys that belong to them, in the order of
	// stepKinds; each kind's types live in step_<kind>.go.

	// Call a REST endpoint.
	Rest *RestStep `yaml:"rest,omitempty"`
	// Call a SOAP operation.
	Soap *SoapStep `yaml:"soap,omitempty"`
	// Call the action with this name.
	Action string `yaml:"action,omitempty"`
	// The inputs of the called action or flow, by name; values may hold expressions.
	With map[string]any `yaml:"with,omitempty"`
	// Run `steps` once per item of this list expression, such as
	// `${{ steps.list.json.items }}`. Inside, `item` is the element and `index` its position.
	Foreach string `yaml:"foreach,omitempty"`
	// How many items of a foreach run at the same time. Default: 1.
	Concurrency int `yaml:"concurrency,omitempty" jsonschema:"minimum=1"`
	// The steps a foreach runs for each item.
	Steps []Step `yaml:"steps,omitempty"`
	// Branches that run at the same time; the step ends when all have ended.
	Parallel []Branch `yaml:"parallel,omitempty"`
	// Pause the flow durably, for a time or until a moment; a worker restart does not cut it short.
	Wait *Wait `yaml:"wait,omitempty"`
	// Run these steps; when one fails (after its retries), run `catch`.
	// The ids of try, catch and finally steps are readable after the step.
	Try []Step `yaml:"try,omitempty"`
	// The steps that run when a step of `try` fails, with `error.type`,
	// `error.message`, `error.step` (the failed step's path) and
	// `error.status_code` readable. A catch that ends normally means the
	// try step succeeded.
	Catch []Step `yaml:"catch,omitempty"`
	// The steps that run after `try` (and `catch`), whatever happened, also
	// when the flow is canceled.
	Finally []Step `yaml:"finally,omitempty"`
	// Start the flow with this name as a child execution, with `with` as its
	// inputs, and wait for it. Later steps read `steps.ID.outputs` and
	// `steps.ID.execution_id`.
	Flow string `yaml:"flow,omitempty"`
	// Fail a rest or soap call whose response this expression finds wrong,
	// such as `${{ response.json.status == "ERROR" }}` on a 200: judged on the
	// worker, in the call's activity, against `response.status_code`,
	// `response.json`, `response.body` and `response.headers`. The step fails
	// with type ResponseRejected and the partner's words, without retry.
	FailWhen Condition `yaml:"fail_when,omitempty"`
	// Like fail_when, but the call is retried with the step's retry policy
	// while it holds, such as `${{ response.json.code == "LOCKED" }}`.
	RetryWhen Condition `yaml:"retry_when,omitempty"`
	// Repeat this rest or soap call until a condition holds, such as a job that reports when it is done.
	Poll *Poll `yaml:"poll,omitempty"`
	// In a foreach: checked before each item (item and index bound); when
	// it holds no more items start (those running finish).
	BreakWhen Condition `yaml:"break_when,omitempty"`
	// In a foreach: checked before each item; when it holds the item is skipped.
	ContinueWhen Condition `yaml:"continue_when,omitempty"`
	// Branch: the cases, in order; the steps of the first whose when holds
	// run, in the flow's scope. The record's steps.ID.case names it (case0, case1, …).
	Switch []Case `yaml:"switch,omitempty"`
	// The steps a switch runs when no case holds (case default).
	Default []Step `yaml:"default,omitempty"`
	// With if: the steps that run when the condition holds (case then).
	// A step with if: and no then: keeps if:'s meaning: skip unless.
	Then []Step `yaml:"then,omitempty"`
	// With if: and then: the steps that run when the condition does not hold (case else).
	Else []Step `yaml:"else,omitempty"`
	// Assign variables for the steps after this one: `{name: EXPR, ...}`,
	// read as `vars.NAME`. Flow-wide, except inside a foreach item or a
	// parallel branch, where they stay local to it. Runs in the workflow: no activity.
	Set map[string]any `yaml:"set,omitempty"`
	// Run a block of steps again and again, until a condition holds.
	Repeat *Repeat `yaml:"repeat,omitempty"`
	// End the flow (or the enclosing try) with this error.
	Fail *Fail `yaml:"fail,omitempty"`
}

// stepKind is one row of the table of step kinds: everything the loader
// knows about a kind. The kind's own code (its YAML types, checks and
// compilation) lives in step_<name>.go; see docs/contributing.md for how to
// add one.
type stepKind struct {
	// name is the YAML key that makes a step of this kind, and the kind's
	// name in plans and records.
	name string
	// given reports whether a step gives this kind's key.
	given func(*Step) bool
	// connection, for kinds that call a partner through a connection in an
	// activity, names the step's connection; timeout, retry, local, poll
	// and mocks apply to those kinds only. Nil for kinds that run in the
	// workflow alone.
	connection func(*Step) string
	// owns lists the other keys of a step that belong to this kind.
	owns []ownedKey
	// check checks a step of this kind, all but the steps it holds, which
	// are checked from blocks.
	check func(c *checker, s *stepCheck)
	// compile fills in the kind's part of the compiled step.
	compile func(c *compiler, doc *document, sp string, st *Step, es *engine.Step)
	// blocks lists the sequences of steps a step at path sp holds. It is
	// asked of every kind, given or not, so that ids are declared and
	// misplaced steps found; it returns nil when the step has none of them.
	blocks func(st *Step, sp string) []block
	// called, for kinds that run another document's steps as part of the
	// step (action, flow), returns that document's name, steps and
	// on_failure steps: an offline test can name them under the step's path
	// (the on_failure steps under PATH/on_failure/).
	called func(idx *index, st *Step) (name string, steps, onFailure []Step)
	// reach, for kinds that bring more than their own steps into a plan
	// (action: the action's definition), compiles that and returns the steps
	// it adds, whose connections the plan must carry too.
	reach func(c *compiler, st *engine.Step) []engine.Step
}

// ownedKey is a key of Step that only a step of its kind may give.
type ownedKey struct {
	key string
	set func(*Step) bool
	// misplaced is what to say when a step of another kind gives it.
	misplaced string
	// alone says the key on a step of no kind tells what the step was meant
	// to be, so its message replaces "does nothing".
	alone bool
}

// block is a sequence of steps a step holds.
type block struct {
	// path is the YAML path of the sequence, such as steps[2].steps.
	path  string
	steps []Step
	// per is what the steps run once per: "item" or "page". Their ids form
	// a scope of their own. "" means they run once, and their ids belong to
	// the scope around the step (the branches of a parallel step).
	per string
	// record is what the execution record writes between the step's path
	// and the ids of these steps, with [*] for an index: "[*]/", "/ID/".
	record string
	// branch is the path of the parallel branch the steps are, if any.
	branch string
	// binds lists the names expressions of the steps may read besides
	// those around the step: item and index, page, branch.
	binds []string
	// self says the steps may read the step that holds them
	// (steps.ID.items of a paginated step, in each_page).
	self bool
}

// stepKinds is the table of step kinds, in the order messages list them and
// a plan's Step holds them; each row is a function of the kind's file. It
// is a function rather than a variable because checking and compiling a
// kind that holds steps comes back to the table, which a variable's
// initializer may not do.
func stepKinds() []stepKind {
	return []stepKind{
		restKind(),
		soapKind(),
		actionKind(),
		foreachKind(),
		parallelKind(),
		waitKind(),
		switchKind(),
		setKind(),
		repeatKind(),
		failKind(),
		tryKind(),
		flowKind(),
	}
}

// Checked once when the program starts: a kind listed twice or without
// its functions is a mistake in the table, not in anyone's project.
var _ = mustCheckStepKinds(stepKinds())

func mustCheckStepKinds(kinds []stepKind) bool {
	if err := checkStepKinds(kinds); err != nil {
		panic(err)
	}
	return true
}

func checkStepKinds(kinds []stepKind) error {
	seen := map[string]bool{}
	for i, k := range kinds {
		switch {
		case k.name == "":
			return fmt.Errorf("flows: step kind %d has no name", i)
		case seen[k.name]:
			return fmt.Errorf("flows: step kind %q is listed twice", k.name)
		case k.given == nil || k.check == nil || k.compile == nil:
			return fmt.Errorf("flows: step kind %q lacks given, check or compile", k.name)
		}
		seen[k.name] = true
	}
	return nil
}

// givenKinds returns the rows of the kinds a step gives, in table order.
func givenKinds(st *Step) []*stepKind {
	var out []*stepKind
	kinds := stepKinds()
	for i := range kinds {
		if kinds[i].given(st) {
			out = append(out, &kinds[i])
		}
	}
	return out
}

// stepKindOf names the step's kind: the first it gives, or "".
func stepKindOf(st *Step) string {
	if given := givenKinds(st); len(given) > 0 {
		return given[0].name
	}
	return ""
}

// kindNamed returns the row of the kind called name, or nil.
func kindNamed(name string) *stepKind {
	kinds := stepKinds()
	for i := range kinds {
		if kinds[i].name == name {
			return &kinds[i]
		}
	}
	return nil
}

// callStep reports whether a step of this kind sends requests through a
// connection, and so can be mocked.
func callStep(kind string) bool {
	k := kindNamed(kind)
	return k != nil && k.connection != nil
}

// kindNames lists the names of the kinds, all of them or those that call
// partners.
func kindNames(callsOnly bool) []string {
	var out []string
	for _, k := range stepKinds() {
		if !callsOnly || k.connection != nil {
			out = append(out, k.name)
		}
	}
	return out
}

// wordList joins words for a message: "a", "a and b", "a, b or c".
func wordList(words []string, conj string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}

// boundNames are the names an expression may read where it runs besides
// inputs, vars and steps: item and index in a foreach, page in each_page,
// branch in a parallel branch.
type boundNames []string

func (b boundNames) with(names ...string) boundNames {
	if len(names) == 0 {
		return b
	}
	return append(append(boundNames(nil), b...), names...)
}

func (b boundNames) has(name string) bool {
	for _, n := range b {
		if n == name {
			return true
		}
	}
	return false
}

// stepCheck is one step being checked, with what its expressions may read.
type stepCheck struct {
	b  *body
	sc *scope
	// path is the step's YAML path, such as steps[2].
	path    string
	st      *Step
	visible map[string]string
	bound   boundNames
	// env is what the step's own expressions may read.
	env *exprEnv
}

// selfEnv is what expressions at path+suffix may read when they run after
// the step's own call (poll.until, paginate.stop_when): the step itself
// too, and the names in binds.
func (s *stepCheck) selfEnv(suffix string, binds ...string) *exprEnv {
	self := copyMap(s.visible)
	if s.st.ID != "" {
		self[s.st.ID] = s.path
	}
	return &exprEnv{b: s.b, stepPath: s.path + suffix, visible: self, bound: s.bound.with(binds...)}
}

// checkStep checks one step: that it does one thing, what every step may
// give, its kind's own checks, and the steps it holds.
func (c *checker) checkStep(b *body, sc *scope, sp string, st *Step, visible map[string]string, bound boundNames) {
	doc := b.doc
	s := &stepCheck{b: b, sc: sc, path: sp, st: st, visible: visible, bound: bound,
		env: &exprEnv{b: b, stepPath: sp, visible: visible, bound: bound}}
	given := givenKinds(st)
	label := fmt.Sprintf("step %q", st.ID)
	if st.ID == "" {
		label = "this step"
	}
	misplaced := c.checkOwnedKeys(doc, sp, st, given)
	switch {
	case len(given) == 0 && misplaced:
	case len(given) == 0 && !doc.troubled[sp]:
		c.errorf(doc, doc.keyPos(sp), sp, "%s does nothing; give it one of %s", label, wordList(kindNames(false), "or"))
	case len(given) > 1:
		c.errorf(doc, doc.keyPos(sp+"."+given[1].name), sp, "%s has both %s and %s; a step does one thing, so split it into two steps", label, given[0].name, given[1].name)
	}
	if st.If != "" {
		c.checkString(doc, sp+".if", string(st.If), s.env)
	}
	if r := st.Retry; r != nil && r.InitialInterval > 0 && r.MaxInterval > 0 && r.MaxInterval < r.InitialInterval {
		c.errorf(doc, doc.valPos(sp+".retry.max_interval"), sp+".retry.max_interval", "max_interval %s is shorter than initial_interval %s", time.Duration(r.MaxInterval), time.Duration(r.InitialInterval))
	}
	c.checkCallFields(s, given)
	for _, k := range given {
		k.check(c, s)
	}
	for _, k := range given {
		if k.blocks == nil {
			continue
		}
		for _, blk := range k.blocks(st, sp) {
			// A set inside a foreach item or a parallel branch stays there.
			local := blk.per != "" || blk.branch != ""
			saved := b.vars
			if local && b.vars != nil {
				b.vars = copySet(saved)
			}
			inner := sc
			if blk.per != "" {
				if inner = b.scopes[blk.path]; inner == nil {
					inner = &scope{parent: sc, foreach: sp, pages: blk.per == "page", ids: map[string]string{}}
				}
			}
			vis := copyMap(visible)
			if blk.self && st.ID != "" {
				vis[st.ID] = sp
			}
			c.checkSteps(b, inner, blk.path, blk.steps, vis, bound.with(blk.binds...))
			if local {
				b.vars = saved
			}
		}
	}
}

// checkOwnedKeys reports the keys of kinds the step does not give, and
// whether one of them tells what a step of no kind was meant to be.
func (c *checker) checkOwnedKeys(doc *document, sp string, st *Step, given []*stepKind) bool {
	isGiven := map[string]bool{}
	for _, k := range given {
		for _, o := range k.owns {
			isGiven[o.key] = true
		}
	}
	alone := false
	for _, k := range stepKinds() {
		for _, o := range k.owns {
			if isGiven[o.key] || !o.set(st) {
				continue
			}
			isGiven[o.key] = true // one message per key
			c.errorf(doc, doc.keyPos(sp+"."+o.key), sp+"."+o.key, "%s", o.misplaced)
			alone = alone || (o.alone && len(given) == 0)
		}
	}
	return alone
}

// steps compiles a sequence of steps.
func (c *compiler) steps(doc *document, p string, steps []Step) []engine.Step {
	out := make([]engine.Step, len(steps))
	for i := range steps {
		out[i] = c.step(doc, indexPath(p, i), &steps[i])
	}
	return out
}

// step compiles what every step has, then its kind's part.
func (c *compiler) step(doc *document, sp string, st *Step) engine.Step {
	at := doc.valPos(sp)
	es := engine.Step{
		ID:              st.ID,
		Name:            st.Name,
		Source:          fmt.Sprintf("%s:%d:%d", doc.file, at.Line, at.Col),
		If:              string(st.If),
		Timeout:         engine.Duration(st.Timeout),
		ContinueOnError: st.ContinueOnError,
		Local:           st.Local,
		Idempotent:      st.Idempotent,
		FailWhen:        string(st.FailWhen),
		RetryWhen:       string(st.RetryWhen),
		HoldOnFailure:   st.HoldOnFailure,
	}
	if r := st.Retry; r != nil {
		es.Retry = &engine.RetryPolicy{
			MaxAttempts:        r.MaxAttempts,
			InitialInterval:    engine.Duration(r.InitialInterval),
			BackoffCoefficient: r.BackoffCoefficient,
			MaxInterval:        engine.Duration(r.MaxInterval),
		}
	}
	if given := givenKinds(st); len(given) > 0 {
		given[0].compile(c, doc, sp, st, &es)
	}
	if _, set := doc.vals[sp+".local"]; set && !st.Local {
		es.Regular = true // local: false
	}
	compilePoll(st, &es)
	return es
}
