package devserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporaltest"
)

var (
	stampMu sync.Mutex
	stamps  = map[string][]time.Time{}
)

func stampAct(ctx context.Context, key string) error {
	stampMu.Lock()
	stamps[key] = append(stamps[key], time.Now())
	stampMu.Unlock()
	return nil
}

func stampWF(ctx workflow.Context, key string, n int, local bool) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for range n {
		var err error
		if local {
			err = workflow.ExecuteLocalActivity(ctx, stampAct, key).Get(ctx, nil)
		} else {
			err = workflow.ExecuteActivity(ctx, stampAct, key).Get(ctx, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func envOverrides(t *testing.T) map[string]any {
	m := map[string]any{}
	if v := os.Getenv("DC"); v != "" {
		d := json.NewDecoder(stringsReader(v))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		for k, x := range m {
			if n, ok := x.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					m[k] = int(i)
				} else {
					f, _ := n.Float64()
					m[k] = f
				}
			}
		}
	}
	return m
}

func TestScratchLatency(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip()
	}
	var c client.Client
	var stop func()
	switch os.Getenv("SCRATCH") {
	case "temporaltest":
		var opts []temporaltest.TestServerOption
		if dc := envOverrides(t); len(dc) > 0 {
			sc := dynamicconfig.StaticClient{}
			for k, v := range dc {
				sc[dynamicconfig.MakeKey(k)] = v
			}
			opts = append(opts, temporaltest.WithBaseServerOptions(temporalWithDC(sc)))
		}
		ts := temporaltest.NewServer(append(opts, temporaltest.WithT(t))...)
		c = ts.GetDefaultClient()
		stop = func() {}
	default:
		s := startServer(t, Options{DynamicConfig: envOverrides(t)})
		c = dial(t, s, nil)
		stop = func() {}
	}
	defer stop()
	w := worker.New(c, "lat", worker.Options{DisableEagerActivities: os.Getenv("NOEAGER") != ""})
	w.RegisterWorkflow(stampWF)
	w.RegisterActivity(stampAct)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	sizes := []int{10, 50, 200}
	if v := os.Getenv("SIZES"); v != "" {
		sizes = nil
		var x []int
		json.Unmarshal([]byte(v), &x)
		sizes = x
	}
	local := os.Getenv("LOCAL") != ""
	rounds := 2
	if v := os.Getenv("ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	for round := 0; round < rounds; round++ {
		if round == 1 && os.Getenv("PROFILE") != "" {
			f, _ := os.Create(os.Getenv("PROFILE"))
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		for _, n := range sizes {
			key := fmt.Sprintf("%d-%d", round, n)
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			began := time.Now()
			run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: "lat"}, stampWF, key, n, local)
			if err != nil {
				t.Fatal(err)
			}
			if err := run.Get(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			total := time.Since(began)
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano())
			st := stamps[key]
			var gaps []time.Duration
			for i := 1; i < len(st); i++ {
				gaps = append(gaps, st[i].Sub(st[i-1]))
			}
			seg := func(from, to int) string {
				if to > len(gaps) {
					to = len(gaps)
				}
				if from >= to {
					return "-"
				}
				g := append([]time.Duration(nil), gaps[from:to]...)
				sort.Slice(g, func(i, j int) bool { return g[i] < g[j] })
				var sum time.Duration
				for _, x := range g {
					sum += x
				}
				return fmt.Sprintf("avg %.1fms p50 %.1fms max %.1fms", ms(sum/time.Duration(len(g))), ms(g[len(g)/2]), ms(g[len(g)-1]))
			}
			t.Logf("round %d n=%d: cpu %.1f ms/activity | total %v = %.1f ms/activity | first20 %s | last20 %s", round, n, ms(cpu)/float64(n), total.Round(time.Millisecond), ms(total)/float64(n), seg(0, 20), seg(max(0, len(gaps)-20), len(gaps)))
		}
	}
	_ = strconv.Itoa
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
