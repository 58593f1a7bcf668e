package bench

import (
	"context"
	"math"
	"time"
)

// Schedule spreads events evenly over time: after a linear ramp-up (the
// rate grows from 0 to Rate over Ramp) events come at Rate per second.
// Event k goes to target k mod Targets, so every target (customer) sends at
// Rate/Targets per second and consecutive events hit different targets.
// The ramp's events are warm-up: figures count events from RampEvents on.
type Schedule struct {
	Rate    float64       // events per second, > 0
	Targets int           // > 0
	Ramp    time.Duration // 0 = full rate at once
	Total   int64         // events in all, ramp included
}

// ScheduleFor is the schedule of a ramp then rate events per second for d.
func ScheduleFor(rate float64, targets int, ramp, d time.Duration) Schedule {
	s := Schedule{Rate: rate, Targets: targets, Ramp: ramp}
	s.Total = s.RampEvents() + int64(rate*d.Seconds())
	return s
}

// RampEvents is how many events fall in the ramp (Rate*Ramp/2: the area
// under the rising rate).
func (s Schedule) RampEvents() int64 {
	return int64(s.Rate * s.Ramp.Seconds() / 2)
}

// Due is when event k is due, relative to the start. In the ramp the
// cumulative count is Rate*t²/(2*Ramp), so event k is due at
// sqrt(2*Ramp*k/Rate); after it, one event every 1/Rate seconds.
func (s Schedule) Due(k int64) time.Duration {
	r := s.RampEvents()
	if k < r {
		return time.Duration(math.Sqrt(2*s.Ramp.Seconds()*float64(k)/s.Rate) * float64(time.Second))
	}
	return s.Ramp + time.Duration(float64(k-r)/s.Rate*float64(time.Second))
}

// Target is the target of event k.
func (s Schedule) Target(k int64) int { return int(k % int64(s.Targets)) }

// PerTarget is each target's rate.
func (s Schedule) PerTarget() float64 { return s.Rate / float64(s.Targets) }

// Run calls fire for every event in order, each not more than a
// millisecond before it is due,
// until Total events or ctx ends; it returns how many it fired and how many
// of those fired more than lateAfter past their time (the generator could
// not keep up, so the figures understate the offered load). fire must not
// block for long: it runs on the pacing goroutine.
func (s Schedule) Run(ctx context.Context, start time.Time, lateAfter time.Duration, fire func(k int64)) (fired, late int64) {
	if s.Rate <= 0 || s.Targets <= 0 {
		return 0, 0
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := int64(0); k < s.Total; k++ {
		due := start.Add(s.Due(k))
		// Sleeping for less than a millisecond costs more than it is
		// precise; fire such events with the ones before them.
		if wait := time.Until(due); wait > time.Millisecond {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return fired, late
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return fired, late
		}
		if time.Since(due) > lateAfter {
			late++
		}
		fire(k)
		fired++
	}
	return fired, late
}
