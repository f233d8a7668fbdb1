package devserver

import (
	"go.temporal.io/server/common/dynamicconfig"
)

// defaultDynamicConfig tunes the server for one machine, one process and a
// person waiting on the result.
var defaultDynamicConfig = map[string]any{
	// Search attributes added at startup (and by users later) are usable
	// at once instead of after the cache's refresh interval.
	"system.forceSearchAttributesCacheRefreshOnRead": true,
	"system.forceNexusEndpointRefreshOnRead":         true,
	// The forced refreshes above read the database on every lookup; the
	// default persistence rate limits are sized for a shared cluster
	// database and would throttle a busy local run.
	"frontend.persistenceMaxQPS": 10000,
	"history.persistenceMaxQPS":  45000,
	"matching.persistenceMaxQPS": 10000,
	// Listing executions is what `outflow executions` and the UI do all
	// the time.
	"frontend.namespaceRPS.visibility": 1000,
}

func dynamicConfig(overrides map[string]any) dynamicconfig.StaticClient {
	dc := make(dynamicconfig.StaticClient, len(defaultDynamicConfig)+len(overrides))
	for k, v := range defaultDynamicConfig {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	for k, v := range overrides {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	return dc
}
