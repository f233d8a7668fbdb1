package engine

import (
	"fmt"
	"reflect"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func foreachKind() stepKind {
	return stepKind{
		name:   "foreach",
		is:     func(s *Step) bool { return s.Foreach != nil },
		run:    (*runner).runForeach,
		blocks: func(s *Step) []Block { return []Block{{Steps: s.Foreach.Steps, Per: "item"}} },
	}
}

// Foreach runs Steps once per item of Items (an expression that yields a
// list), at most Concurrency at a time (default 1). Inside, `item` and
// `index` refer to the current element.
type Foreach struct {
	Items       string `json:"items"`
	Concurrency int    `json:"concurrency,omitempty"`
	Steps       []Step `json:"steps"`
	// BreakWhen, checked before an item starts (with item and index
	// bound), starts no more items; those running finish.
	BreakWhen string `json:"break_when,omitempty"`
	// ContinueWhen, checked before an item starts, skips the item.
	ContinueWhen string `json:"continue_when,omitempty"`
}

func (r *runner) runForeach(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rec := r.newStepRecord(ctx, st, path)
	v, err := EvalValue(st.Foreach.Items, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".foreach", err))
	}
	if _, isList := v.([]any); !isList && v != nil && workflow.GetVersion(ctx, anyListChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		// Executions started before foreach took any list failed here.
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("foreach needs a list, got %T", v), ErrExpression, nil))
	}
	items, err := listItems(v)
	if err != nil {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(err.Error(), ErrExpression, nil))
	}
	if err := r.checkForeachItems(len(items)); err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	limit := st.Foreach.Concurrency
	if limit <= 0 {
		limit = 1
	}
	results := make([]any, len(items))
	errs := make([]error, len(items))
	ff := r.failFast(ctx, st)
	defer ff.end()
	running, started, done := 0, 0, 0
	for i, item := range items {
		_ = workflow.Await(ctx, func() bool { return running < limit || ff.stopped() })
		if ff.stopped() {
			break // the items not started never start
		}
		if st.Foreach.BreakWhen != "" || st.Foreach.ContinueWhen != "" {
			brk, skip, err := r.foreachGuards(st, sc, path, i, item)
			if err != nil {
				ff.failed(i, err)
				errs[i] = err
				break
			}
			if brk {
				break
			}
			if skip {
				results[i] = map[string]any{"skipped": true}
				continue
			}
		}
		running++
		started++
		i, item := i, item
		workflow.Go(ff.ctx, func(gctx workflow.Context) {
			defer func() { running--; done++ }()
			defer r.recoverBranch(gctx, &errs[i])
			// Each iteration sees the steps before the loop and its own.
			inner := sc.child(map[string]any{"item": item, "index": i})
			errs[i] = r.runSteps(gctx, st.Foreach.Steps, inner, fmt.Sprintf("%s[%d]/", path, i))
			ff.failed(i, errs[i])
			own := map[string]any{}
			for _, s := range st.Foreach.Steps {
				if v, ok := inner.steps[s.ID]; ok {
					own[s.ID] = v
				}
			}
			results[i] = own
		})
	}
	_ = workflow.Await(ctx, func() bool { return done == started })
	sc.steps[st.ID] = map[string]any{"results": results, "count": len(items)}
	if err := ff.firstError(errs); err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID].(map[string]any)["status"] = StatusSucceeded
	return nil
}

// foreachGuards evaluates break_when and continue_when for item i, in
// the workflow, before the item starts.
func (r *runner) foreachGuards(st *Step, sc *scope, path string, i int, item any) (brk, skip bool, err error) {
	env := sc.env()
	env["item"], env["index"] = item, i
	for _, g := range []struct {
		name, expr string
		out        *bool
	}{{"break_when", st.Foreach.BreakWhen, &brk}, {"continue_when", st.Foreach.ContinueWhen, &skip}} {
		if g.expr == "" {
			continue
		}
		v, err := EvalValue(g.expr, env)
		if err != nil {
			return false, false, exprError(fmt.Sprintf("%s[%d].%s", path, i, g.name), err)
		}
		if *g.out = Truthy(v); *g.out {
			return brk, skip, nil
		}
	}
	return false, false, nil
}

// anyListChange gates foreach over lists other than []any (a range, the
// result of split): before, they failed the step.
const anyListChange = "foreach-any-list"

// listItems returns the items of any list an expression yields: []any
// from JSON and list literals, []int from a range (1..3), []string from
// split, and so on, in order. nil is no items.
func listItems(v any) ([]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	case string:
		return nil, fmt.Errorf("foreach needs a list, got the string %q", truncate(x, 40))
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
		what := "a " + k.String()
		switch k {
		case reflect.Map, reflect.Struct:
			what = "an object"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			what = "the number " + Stringify(v)
		case reflect.Bool:
			what = "the boolean " + Stringify(v)
		}
		return nil, fmt.Errorf("foreach needs a list, got %s", what)
	}
	items := make([]any, rv.Len())
	for i := range items {
		items[i] = rv.Index(i).Interface()
	}
	return items, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
