package main

// GC settings of the server side (-gc-memory-limit): the embedded server,
// the workers and the partner share the bench process, so a scenario can
// switch the process's garbage collector to a memory-limit-based one for
// its own runs and back, interleaved with the default in the same rounds.

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// gcSetting is a garbage collector configuration: GOGC (percent, -1 for
// off) and GOMEMLIMIT (bytes, math.MaxInt64 for none).
type gcSetting struct {
	Percent int   `json:"gogc"`
	Limit   int64 `json:"gomemlimit_bytes"`
}

func (g gcSetting) String() string {
	p := "off"
	if g.Percent >= 0 {
		p = strconv.Itoa(g.Percent)
	}
	l := "none"
	if g.Limit != math.MaxInt64 {
		l = fmt.Sprintf("%dMiB", g.Limit>>20)
	}
	return fmt.Sprintf("GOGC=%s GOMEMLIMIT=%s", p, l)
}

// apply sets g and returns what was set before.
func (g gcSetting) apply() gcSetting {
	return gcSetting{Percent: debug.SetGCPercent(g.Percent), Limit: debug.SetMemoryLimit(g.Limit)}
}

// parseBytes reads a size as GOMEMLIMIT writes it: a number of bytes with
// an optional B, KiB, MiB, GiB or TiB suffix.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is not a size such as 800MiB or 1GiB", s)
	}
	return n << shift, nil
}

// gcScenarios are outflow and outflow-regular with the process's GC set to
// g for their runs (measure sets it before the clock starts and restores
// it after the clock stops).
func gcScenarios(g gcSetting) []scenario {
	return []scenario{
		{
			Name: "outflow-gc",
			What: "as outflow, with the whole bench process (embedded server, workers, partner) on " + g.String() + " during its runs, the default restored after",
			gc:   &g,
			run:  outflowRun(false, "default"),
		},
		{
			Name: "outflow-regular-gc",
			What: "as outflow-regular, with " + g.String() + " during its runs",
			gc:   &g,
			run:  outflowRun(false, "regular"),
		},
	}
}

// withGC sets g (nil: nothing) and returns what restores the setting
// before and gives the memory the run's heap took back to the system, so
// the next run's peak RSS starts from where it would have. Neither is
// part of a measured run.
func withGC(g *gcSetting) (restore func()) {
	if g == nil {
		return func() {}
	}
	before := g.apply()
	return func() {
		before.apply()
		debug.FreeOSMemory()
	}
}
