package devserver

import (
	"go.temporal.io/server/common/dynamicconfig"
)

// defaultDynamicConfig fits the server to one process with one history shard
// and one person waiting on the result. The defaults are sized for clusters
// with hundreds of shards on several hosts.
//
// Sequential activities: with the defaults, a workflow running activities one
// after another gets its first ~20 at ~10 ms each and every later one at
// exactly 50 ms, whether its history is short or long. What looks like
// latency growing with history length is a token bucket running dry: each
// activity completion creates a workflow task that reaches matching through
// the history transfer queue, and the reader of that queue may query the
// database at most 20 times a second per shard (burst 20). A cluster spreads
// workflows over hundreds of shards; here all share one, and a sequential
// workflow needs one read per step. Lifted, a step costs only CPU (measured
// 8–12 ms of CPU for server, SDK and worker together per activity on a busy
// 2-core machine) and stays flat from 10 to 1000 activities. Readers are
// woken by new tasks, so the high limit adds no idle polling (an idle server
// used 0.2% of a core). The timer queue (timers, retries, timeouts), the
// visibility queue (how soon a run shows in listings) and the outbound queue
// (callbacks) have the same limit.
var defaultDynamicConfig = map[string]any{
	"history.transferProcessorMaxPollRPS":   10000,
	"history.timerProcessorMaxPollRPS":      10000,
	"history.visibilityProcessorMaxPollRPS": 10000,
	"history.outboundProcessorMaxPollRPS":   10000,

	// Task queue partitions spread load over matching hosts; with one host
	// and a couple of pollers per queue they only add forwarding hops
	// between partitions before a task meets a poller. This matters for
	// activities on agent queues, which are never dispatched eagerly.
	// A database keeps tasks per partition, so this must not change once a
	// persistent database holds a backlog.
	"matching.numTaskqueueReadPartitions":  1,
	"matching.numTaskqueueWritePartitions": 1,

	// Listing executions is what the CLI and the UI do all the time; the
	// default of 10 per second throttles a UI page that refreshes counts.
	"frontend.namespaceRPS.visibility": 100,

	// The mutable-state cache may hold 128k workflows for an hour on a
	// dedicated host; inside a developer's process a smaller bound keeps
	// memory flat, and evicted workflows reload from SQLite.
	"history.hostLevelCacheMaxSize": 8192,

	// History closes a parent's children itself when they are few and
	// hands them to this system worker when they are many, to spread the
	// work over a cluster. Here history can do it all, and the server's
	// Stop never stops that worker's SDK client.
	"system.enableParentClosePolicyWorker": false,
}

// ephemeralDynamicConfig is added for servers whose database dies with them.
var ephemeralDynamicConfig = map[string]any{
	// The scanners clean a database over days (expired task queues,
	// orphaned history branches). An ephemeral server lives for a test or
	// one run, and its scanner workers are never stopped by the server's
	// Stop: each Start/Stop in a test process would leave ~70 goroutines.
	"worker.taskQueueScannerEnabled": false,
	"worker.historyScannerEnabled":   false,
}

func dynamicConfig(ephemeral bool, overrides map[string]any) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{}
	set := func(m map[string]any) {
		for k, v := range m {
			dc[dynamicconfig.MakeKey(k)] = v
		}
	}
	set(defaultDynamicConfig)
	if ephemeral {
		set(ephemeralDynamicConfig)
	}
	set(overrides)
	return dc
}
