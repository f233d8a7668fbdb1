package steps

import (
	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
)

// ActivityDeps is what the activities of the step kinds that call partners
// are built on: the worker's secrets, transports, project folder and name.
type ActivityDeps struct {
	Secrets    *secrets.Resolver
	Transports rest.Transports
	// BaseDir, when set, is where the worker finds project files; otherwise
	// each plan's project folder is used.
	BaseDir  string
	Identity string
}

// StepActivity is the activity of a step kind that calls partners.
type StepActivity struct {
	// Name is the activity's name, the kind's (engine.RestActivity).
	Name string
	// Fn is the activity: func(context.Context, *engine.<Kind>Request)
	// (*engine.StepResult, error), its request embedding engine.CallHeader,
	// so that worker interceptors (telemetry, the offline runner's mocks)
	// handle every kind alike.
	Fn any
}

// StepActivities lists the activities of the step kinds that call
// partners, in the order of the engine's table of kinds: the one place a
// new kind's activity is added, for workers and the offline test runner.
func StepActivities(d ActivityDeps) []StepActivity {
	return []StepActivity{
		{engine.RestActivity, (&rest.Activity{Secrets: d.Secrets, Transports: d.Transports, BaseDir: d.BaseDir, Identity: d.Identity}).Execute},
		{engine.SoapActivity, (&soap.Activity{Secrets: d.Secrets, Transports: d.Transports, BaseDir: d.BaseDir, Identity: d.Identity}).Execute},
	}
}
