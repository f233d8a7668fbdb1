package engine

import "go.temporal.io/sdk/workflow"

// failFastChange gates stopping a foreach or parallel step at its first
// failure: before, the other items and branches ran to their end, and
// executions started then must replay as they ran.
const failFastChange = "fail-fast-foreach-parallel"

// stopOnFailure is how a foreach or parallel step stops its items or
// branches at the first failure: unless the step has continue_on_error,
// the first item or branch to fail cancels the context of the others (their
// calls in progress are canceled, their timers end) and items not started
// never start. With continue_on_error, every item and branch runs to its
// end, and the step reports the first failure by position.
type stopOnFailure struct {
	// ctx is the context items and branches run in.
	ctx    workflow.Context
	cancel workflow.CancelFunc
	// first is the index of the failure that stopped the others; -1 while
	// none did.
	first int
}

func (r *runner) failFast(ctx workflow.Context, st *Step) *stopOnFailure {
	f := &stopOnFailure{ctx: ctx, first: -1}
	if st.ContinueOnError || workflow.GetVersion(ctx, failFastChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return f
	}
	f.ctx, f.cancel = workflow.WithCancel(ctx)
	return f
}

// failed notes the end of item or branch i; the first failure cancels
// the rest.
func (f *stopOnFailure) failed(i int, err error) {
	if err != nil && f.cancel != nil && f.first < 0 {
		f.first = i
		f.cancel()
	}
}

// stopped says a failure has canceled the rest.
func (f *stopOnFailure) stopped() bool { return f.first >= 0 }

// firstError is the failure the step reports: the one that stopped the
// others (not their cancellation), else the first by position.
func (f *stopOnFailure) firstError(errs []error) error {
	if f.first >= 0 {
		return errs[f.first]
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// end releases the items' context once the step is over.
func (f *stopOnFailure) end() {
	if f.cancel != nil {
		f.cancel()
	}
}
