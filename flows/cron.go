package flows

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// cronField describes one field of a five-field cron calendar.
type cronField struct {
	name     string
	min, max int
	names    []string // names for min, min+1, ...
	question bool     // "?" is allowed
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31, question: true},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	// 7 is Sunday as well as 0, as in most cron implementations.
	{name: "day of week", min: 0, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, question: true},
}

var cronDescriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkCron checks a cron calendar as Temporal Schedules read it: five
// fields (minute hour day-of-month month day-of-week) or a descriptor.
func checkCron(spec string) error {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return errors.New("give the time zone in timezone:, not in the cron text")
	}
	if strings.HasPrefix(spec, "@") {
		if strings.HasPrefix(spec, "@every") {
			return errors.New("write intervals as every: (such as every: 1h) instead of cron: @every")
		}
		if contains(cronDescriptors, spec) {
			return nil
		}
		return fmt.Errorf("unknown descriptor; use one of %s", strings.Join(cronDescriptors, ", "))
	}
	fields := strings.Fields(spec)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("a cron calendar has 5 fields (minute hour day-of-month month day-of-week), got %d", len(fields))
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return err
		}
	}
	return nil
}

func (cf cronField) check(field string) error {
	for _, item := range strings.Split(field, ",") {
		if item == "" {
			return fmt.Errorf("%s %q has an empty list entry", cf.name, field)
		}
		rng, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 {
				return fmt.Errorf("%s step %q must be a whole number of at least 1", cf.name, step)
			}
		}
		switch {
		case rng == "*":
			continue
		case rng == "?":
			if !cf.question || hasStep {
				return fmt.Errorf("%s does not take \"?\"; use *", cf.name)
			}
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := cf.value(lo)
		if err != nil {
			return err
		}
		if isRange {
			b, err := cf.value(hi)
			if err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("%s range %q runs backwards; write the smaller value first", cf.name, rng)
			}
		}
	}
	return nil
}

func (cf cronField) value(s string) (int, error) {
	for i, n := range cf.names {
		if strings.EqualFold(s, n) {
			return cf.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if len(cf.names) > 0 {
			return 0, fmt.Errorf("%s %q is not a number from %d to %d or a name (%s)", cf.name, s, cf.min, cf.max, strings.Join(cf.names, ", "))
		}
		return 0, fmt.Errorf("%s %q is not a number from %d to %d", cf.name, s, cf.min, cf.max)
	}
	if v < cf.min || v > cf.max {
		return 0, fmt.Errorf("%s %d is out of range %d-%d", cf.name, v, cf.min, cf.max)
	}
	return v, nil
}
