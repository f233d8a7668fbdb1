// Package engine holds Outflow's compiled plan, the workflow that interprets it,
// expressions, the execution record and the client operations built on them.
//
// The plan is what crosses into Temporal: it is produced by package flows on the
// client, carries the definitions of every connection and protocol profile the
// flow uses (secret references, never secret values), and is interpreted
// deterministically by FlowWorkflow.
//
// Step kinds are rows of one ordered table, stepKinds (stepkinds.go, next to
// Step, which holds one field per kind). Each row is a function of the
// kind's own file, step_<kind>.go, that also holds the kind's plan type and
// the code that runs it; kinds that call a partner in an activity name
// their connection, embed CallHeader in their activity's request and run
// through runCall (calls.go), which gives them retries, timeouts, agents,
// local activities, polling and the record. Adding a kind is two files and
// two rows, one in each layer (this package and package flows), plus the
// activity for kinds that call partners; docs/contributing.md walks through
// it.
//
// # Determinism and versioning
//
// FlowWorkflow and everything it calls is workflow code: Temporal replays it
// from the start whenever a worker picks up a run it does not hold in
// memory, and the replay must issue the same commands (activities, local
// activities, timers, child workflows, continue-as-new, search attribute
// upserts), in the same order, as the run that wrote the history. So
// workflow code does no I/O, reads no clock (workflow.Now, never time.Now),
// draws no random numbers, starts no goroutines (workflow.Go) and never lets
// the order of a map iteration decide anything. .ci/workflowcheck checks
// this on every CI run; a map iteration whose order cannot matter is
// declared in .ci/workflowcheck.yaml with the reason next to it.
//
// A change to the commands a workflow issues goes behind workflow.GetVersion:
// running executions keep the old commands (DefaultVersion), new ones take
// the new path. Such a change includes adding, removing or reordering an
// activity, timer or continue-as-new, changing an activity's name or task
// queue, and running in parallel what ran in sequence. Options that are not
// commands (an activity's input, timeouts, retry policy) and the record's
// contents may change without a version. The plan's JSON keeps the shape of
// its existing fields, since it is part of every history.
//
// # The replay corpus
//
// testdata/replay holds one history per construct of the workflow (wait,
// poll and pagination across continue-as-new, parallel, foreach with
// concurrency, local steps, the certificate check, the quickstart), each
// recorded from a real run on the embedded Temporal server against a
// partner that requires a client certificate. TestReplayCorpus replays every
// file there; a failure means the change breaks running executions.
//
// To add a history (a new step kind, a construct not yet covered, or the
// new path of a change behind workflow.GetVersion): add a flow to
// corpusProject and a row to corpusConstructs in
// cmd/outflow/replaycorpus_test.go, then run
//
//	go test ./cmd/outflow -run TestReplayCorpus -record-history
//
// which writes engine/testdata/replay/<file>.json for every row that has no
// file yet, and commit it. A committed history is never rewritten (the
// recorder refuses): executions recorded by older code must keep
// replaying, so a new recording of a construct gets a new row and file
// name. Without -record-history the same test fails when a row has no
// committed history.
package engine
