package desk

import (
	"errors"
	"fmt"
	"strings"
	"time"

	// The zone database is compiled in so that a team's hours mean the same
	// on every host, including distroless or scratch images without
	// /usr/share/zoneinfo. time.LoadLocation still prefers the host's copy
	// when there is one (docs/decisions.md).
	_ "time/tzdata"
)

// MaxBusinessHours caps a team's business_hours string, in bytes.
const MaxBusinessHours = 200

// AlwaysOpen is the business_hours value of a team that never closes.
const AlwaysOpen = "24/7"

// Hours is a parsed business_hours schedule. The string form is either
// "24/7" or one or more segments "DAYS HH:MM-HH:MM" separated by ";",
// followed by one IANA time zone for the whole schedule:
//
//	Mon-Fri 09:00-18:00; Sat 10:00-14:00 Asia/Seoul
//
// DAYS is a day (Mon..Sun), a range (Mon-Fri; Sat-Mon wraps round the week)
// or a comma list of days and ranges (Mon,Wed,Fri). An end of 24:00 means
// midnight at the end of the day; an end before the start means the span
// runs past midnight into the next day ("Fri 22:00-06:00" is open until
// Saturday 06:00). Times are local wall-clock times of the zone, so a span
// keeps its clock hours across daylight-saving changes.
type Hours struct {
	Always bool           // open at every instant ("24/7" or not set)
	Loc    *time.Location // zone the spans are read in; nil means UTC
	Spans  []HoursSpan
}

// HoursSpan is one segment of a schedule: the days it starts on and its
// start and end in minutes after local midnight. End is 1..1440; End <
// Start means the span ends the next day.
type HoursSpan struct {
	Days       [7]bool // indexed by time.Weekday
	Start, End int
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// ParseHours parses a business_hours string. "" (not set) and "24/7" are
// always open. The error text names the segment and the part that is
// wrong; it is meant to be shown to the caller as is.
func ParseHours(s string) (Hours, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == AlwaysOpen {
		return Hours{Always: true}, nil
	}
	if len(s) > MaxBusinessHours {
		return Hours{}, fmt.Errorf("must be at most %d bytes", MaxBusinessHours)
	}
	// The zone is the last word of the whole string.
	cut := strings.LastIndexAny(s, " \t\r\n")
	if cut < 0 {
		return Hours{}, errors.New(`must be "24/7" or "DAYS HH:MM-HH:MM[; DAYS HH:MM-HH:MM...] ZONE", e.g. "Mon-Fri 09:00-18:00 Asia/Seoul"`)
	}
	body, zone := s[:cut], s[cut+1:]
	if looksLikeTimes(zone) {
		return Hours{}, errors.New("missing time zone at the end (e.g. UTC or Asia/Seoul)")
	}
	loc, err := loadZone(zone)
	if err != nil {
		return Hours{}, err
	}
	h := Hours{Loc: loc}
	segs := strings.Split(body, ";")
	for i, seg := range segs {
		sp, err := parseSpan(seg)
		if err != nil {
			if len(segs) > 1 {
				return Hours{}, fmt.Errorf("segment %d: %w", i+1, err)
			}
			return Hours{}, err
		}
		h.Spans = append(h.Spans, sp)
	}
	return h, nil
}

// Open reports whether the schedule is open at instant t, judged by the
// wall clock of its zone. In a daylight-saving gap the skipped local times
// never occur; in an overlap the repeated hour counts on both passes.
func (h Hours) Open(t time.Time) bool {
	if h.Always {
		return true
	}
	loc := h.Loc
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	day := lt.Weekday()
	prev := (day + 6) % 7
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range h.Spans {
		if sp.End > sp.Start {
			if sp.Days[day] && m >= sp.Start && m < sp.End {
				return true
			}
			continue
		}
		// Past midnight: the evening part on a listed day, the early
		// morning part on the day after one.
		if (sp.Days[day] && m >= sp.Start) || (sp.Days[prev] && m < sp.End) {
			return true
		}
	}
	return false
}

func loadZone(name string) (*time.Location, error) {
	// "Local" is whatever the host says; a team's hours must not depend on
	// where the server runs.
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as UTC or Asia/Seoul)", name)
	}
	return loc, nil
}

// looksLikeTimes tells a forgotten zone ("Mon-Fri 09:00-18:00") from a
// misspelt one: no zone name starts with a digit and contains a colon.
func looksLikeTimes(w string) bool {
	return w != "" && w[0] >= '0' && w[0] <= '9' && strings.Contains(w, ":")
}

func parseSpan(seg string) (HoursSpan, error) {
	f := strings.Fields(seg)
	switch {
	case len(f) == 0:
		return HoursSpan{}, errors.New("empty segment (check for a stray ;)")
	case len(f) != 2:
		return HoursSpan{}, fmt.Errorf("%q: want DAYS HH:MM-HH:MM, e.g. Mon-Fri 09:00-18:00", strings.TrimSpace(seg))
	}
	var sp HoursSpan
	var err error
	if sp.Days, err = parseDays(f[0]); err != nil {
		return HoursSpan{}, err
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return HoursSpan{}, fmt.Errorf("bad time range %q (want HH:MM-HH:MM)", f[1])
	}
	if sp.Start, err = parseClock(from, false); err != nil {
		return HoursSpan{}, err
	}
	if sp.End, err = parseClock(to, true); err != nil {
		return HoursSpan{}, err
	}
	if sp.Start == sp.End {
		return HoursSpan{}, fmt.Errorf("time range %q is empty (use 00:00-24:00 for the whole day)", f[1])
	}
	return sp, nil
}

// parseDays reads "Mon", "Mon-Fri", "Sat-Mon" or "Mon,Wed-Thu,Sat".
func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := parseDay(from)
		if err != nil {
			return days, err
		}
		b := a
		if isRange {
			if b, err = parseDay(to); err != nil {
				return days, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return days, nil
}

func parseDay(s string) (time.Weekday, error) {
	for i, n := range dayNames {
		if s == n {
			return time.Weekday(i), nil
		}
	}
	if s == "" {
		return 0, errors.New("missing day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)")
	}
	return 0, fmt.Errorf("unknown day %q (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)", s)
}

// parseClock reads HH:MM as minutes after midnight; 24:00 only as an end.
func parseClock(s string, end bool) (int, error) {
	bad := func() (int, error) {
		if end {
			return 0, fmt.Errorf("bad time %q (want HH:MM from 00:00 to 24:00)", s)
		}
		return 0, fmt.Errorf("bad time %q (want HH:MM from 00:00 to 23:59)", s)
	}
	if len(s) != 5 || s[2] != ':' {
		return bad()
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return bad()
		}
	}
	hh := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case mm > 59, hh > 24, hh == 24 && (mm != 0 || !end):
		return bad()
	}
	return hh*60 + mm, nil
}
