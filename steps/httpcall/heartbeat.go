package httpcall

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// KeepAlive heartbeats a running step activity until the returned stop is
// called, so that Temporal notices a worker that died in the middle of a
// call within the step's heartbeat timeout, rather than at its
// start-to-close timeout, and starts the next attempt on a live worker.
// It does nothing for local activities and activities without a heartbeat
// timeout. The SDK batches heartbeats, so a long call costs about one
// request to the server per 0.8 heartbeat timeout.
func KeepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	info := activity.GetInfo(ctx)
	if info.IsLocalActivity || info.HeartbeatTimeout <= 0 {
		return func() {}
	}
	every := info.HeartbeatTimeout / 4
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
