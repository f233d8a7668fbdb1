package steps

import (
	"context"
	"reflect"
	"testing"

	"github.com/outflow-dev/outflow/engine"
)

// Every step kind the engine runs as an activity has its activity here,
// taking a request that carries the call header, and nothing else is here.
func TestStepActivitiesMatchTheEngine(t *testing.T) {
	var want []string
	for _, k := range engine.StepKinds() {
		if engine.CallsActivity(k) {
			want = append(want, k)
		}
	}
	var got []string
	callRequest := reflect.TypeFor[engine.CallRequest]()
	for _, a := range StepActivities(ActivityDeps{}) {
		got = append(got, a.Name)
		ft := reflect.TypeOf(a.Fn)
		if ft.Kind() != reflect.Func || ft.NumIn() != 2 || ft.In(0) != reflect.TypeFor[context.Context]() || !ft.In(1).Implements(callRequest) ||
			ft.NumOut() != 2 || ft.Out(0) != reflect.TypeFor[*engine.StepResult]() {
			t.Errorf("activity %s is %v, want func(context.Context, *Request with engine.CallHeader) (*engine.StepResult, error)", a.Name, ft)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("activities %v, engine kinds that call partners %v", got, want)
	}
}
