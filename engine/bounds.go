package engine

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// What one workflow run may do. A flow's own content (a foreach over a
// million items, foreach inside foreach) must end in a clear failure, not in
// a workflow task that times out or trips the deadlock detector and is
// retried forever. The expression limits are in exprbounds.go.
const (
	// MaxForeachItems bounds the items of one foreach. A foreach cannot
	// continue as new in the middle, and Temporal ends a run whose history
	// passes about 51,200 events (an activity costs about six).
	MaxForeachItems = 5_000
	// MaxStepsPerRun bounds the steps one run starts (between two
	// continue-as-new; top-level flows continue as new as their history
	// grows, so only nested loops reach it).
	MaxStepsPerRun = 25_000
)

// Error types of the failures in this file (see engine/activity.go for the
// others).
const (
	// ErrLimit is a flow that needs more than a run allows (MaxForeachItems,
	// MaxStepsPerRun).
	ErrLimit = "Limit"
	// ErrInternal is a panic in the interpreter, turned into a failed flow.
	ErrInternal = "Internal"
)

// boundsChange is the workflow.GetVersion change id of every limit in this
// file and in exprbounds.go. The version is asked for only when a limit is
// reached, where the commands would differ: a history recorded before the
// limits, which went on past that point, replays as it ran (DefaultVersion);
// anything new records version 1 and fails.
const boundsChange = "outflow-bounds"

// runBoundsKey is where a scope's extras carry the run's bounds into
// expressions (no expression can name it).
const runBoundsKey = "\x00outflow-bounds"

// runBounds is what one run has spent against its limits. Workflow code of
// one execution runs one coroutine at a time, so it needs no lock.
type runBounds struct {
	// ctx is the workflow's root context, used only for GetVersion, which
	// does not block and may be called from any of the run's coroutines.
	ctx workflow.Context
	// decided and enforce hold the answer of GetVersion once asked.
	decided, enforce bool
	// steps is the number of steps started in this run; stopped is the error
	// every later step gets once MaxStepsPerRun is passed.
	steps   int
	stopped error
	// exprSteps is the expression work of this run (MaxRunExprSteps).
	exprSteps int
}

func newRunBounds(ctx workflow.Context) *runBounds { return &runBounds{ctx: ctx} }

// enforced says the limits apply to this run; nil bounds (expressions
// evaluated outside a workflow) always apply them.
func (b *runBounds) enforced() bool {
	if b == nil {
		return true
	}
	if !b.decided {
		b.enforce = workflow.GetVersion(b.ctx, boundsChange, workflow.DefaultVersion, 1) >= 1
		b.decided = true
	}
	return b.enforce
}

// legacy says this run replays a history recorded before the limits.
func (b *runBounds) legacy() bool { return b != nil && b.decided && !b.enforce }

// scopeExtra is what a scope carries so its expressions find the bounds.
func (b *runBounds) scopeExtra() map[string]any { return map[string]any{runBoundsKey: b} }

func runBoundsOf(env map[string]any) *runBounds {
	b, _ := env[runBoundsKey].(*runBounds)
	return b
}

func (b *exprBudget) enforced() bool { return b.run.enforced() }
func (b *exprBudget) legacy() bool   { return b.run.legacy() }

// checkResult refuses a list or map result whose JSON would pass
// MaxExprValueBytes: it is about to be sent, stored or written out.
func (b *exprBudget) checkResult(v any) error {
	switch v.(type) {
	case nil, bool, int, float64, string:
		return nil
	}
	size := valueSize(v, MaxExprValueBytes, false)
	if size < 0 {
		return fmt.Errorf("the result holds a function, which is no value a flow can keep")
	}
	if err := b.step("checking the result", 1+min(size, MaxExprValueBytes)/exprBytesPerStep); err != nil {
		return err
	}
	if size > MaxExprValueBytes {
		return &ExprLimitError{What: "the result", Size: size, Limit: MaxExprValueBytes}
	}
	return nil
}

// beginStep counts a step about to start. Past MaxStepsPerRun every later
// step of the run fails too, whatever its continue_on_error says, so that a
// loop of loops stops instead of failing its items one by one.
func (r *runner) beginStep(ctx workflow.Context) error {
	b := r.bounds
	if b == nil {
		return nil
	}
	if b.stopped != nil {
		return b.stopped
	}
	b.steps++
	if b.steps > MaxStepsPerRun && b.enforced() {
		b.stopped = temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"this run started more than %d steps, the limit of one run; foreach inside foreach multiplies: page the outer list or split the work over several runs",
			MaxStepsPerRun), ErrLimit, nil)
		return b.stopped
	}
	return nil
}

// stopStep fails a step for a run limit; continue_on_error does not apply.
func (r *runner) stopStep(ctx workflow.Context, st *Step, sc *scope, path string, err error) error {
	s := *st
	s.ContinueOnError = false
	return r.failStep(ctx, &s, sc, path, err)
}

// checkForeachItems refuses a foreach over more than MaxForeachItems items
// before any of them starts.
func (r *runner) checkForeachItems(n int) error {
	if n <= MaxForeachItems || !r.bounds.enforced() {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"foreach: the list has %d items, over the limit of %d for one foreach; read it in pages (paginate with each_page) or split it over several runs",
		n, MaxForeachItems), ErrLimit, nil)
}

// A panic in workflow code makes the SDK fail the workflow task, and with
// the worker's default panic policy (BlockWorkflow) the task is retried
// forever: right for a non-determinism error during a deploy (the fix is a
// new deploy), wrong for a panic the flow's own content causes, which
// repeats identically on every retry. The worker's policy stays
// BlockWorkflow (FailWorkflow would also fail flows on non-determinism); the
// interpreter instead recovers runtime errors (nil maps, bad indexes, type
// assertions: what its own code can hit on unexpected data) and fails the
// flow with ErrInternal. That is deterministic: the same history panics at
// the same point on replay and takes the same way out. Anything else a
// panic carries (the SDK's illegal-state and version panics are strings,
// errors and its own types) is passed on untouched. A Go out-of-memory or
// stack overflow is fatal and cannot be recovered; the limits above are
// what prevents those.

// recoverFlow, deferred in FlowWorkflow, fails the flow on a runtime panic
// of its main coroutine.
func (r *runner) recoverFlow(ctx workflow.Context, in RunInput, rec **Record, err *error) {
	p := recover()
	if p == nil {
		return
	}
	perr := r.flowPanic(ctx, p)
	if perr == nil {
		panic(p)
	}
	// The record may be what panicked: without it, the error alone.
	defer func() {
		if recover() != nil {
			*rec, *err = nil, perr
		}
	}()
	*rec, *err = r.finish(ctx, in, nil, perr)
}

// recoverBranch, deferred in a coroutine of foreach or parallel, turns a
// runtime panic into that item's or branch's error.
func (r *runner) recoverBranch(ctx workflow.Context, err *error) {
	p := recover()
	if p == nil {
		return
	}
	perr := r.flowPanic(ctx, p)
	if perr == nil {
		panic(p)
	}
	*err = perr
}

func (r *runner) flowPanic(ctx workflow.Context, p any) error {
	re, ok := p.(runtime.Error)
	if !ok {
		return nil
	}
	workflow.GetLogger(ctx).Error("interpreter panic: failing the flow", "error", re.Error(), "stack", string(debug.Stack()))
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("internal error while running the flow: %v (the worker's log has the stack)", re), ErrInternal, nil)
}
