package desk

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// days builds a HoursSpan.Days from weekdays.
func days(ds ...time.Weekday) (out [7]bool) {
	for _, d := range ds {
		out[d] = true
	}
	return out
}

func TestParseHours(t *testing.T) {
	const (
		sun, mon, tue, wed, thu, fri, sat = time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday
	)
	weekdays := days(mon, tue, wed, thu, fri)
	cases := []struct {
		in    string
		zone  string // "" for always open
		spans []HoursSpan
	}{
		{"", "", nil},
		{"24/7", "", nil},
		{"  24/7 ", "", nil},
		{"Mon-Fri 09:00-18:00 Asia/Seoul", "Asia/Seoul", []HoursSpan{{weekdays, 540, 1080}}},
		{"Mon-Fri 09:00-18:00; Sat 10:00-14:00 Asia/Seoul", "Asia/Seoul", []HoursSpan{{weekdays, 540, 1080}, {days(sat), 600, 840}}},
		{"Mon-Fri 09:00-18:00 ;Sat 10:00-14:00\tUTC", "UTC", []HoursSpan{{weekdays, 540, 1080}, {days(sat), 600, 840}}},
		{"Sat-Mon 00:00-24:00 UTC", "UTC", []HoursSpan{{days(sat, sun, mon), 0, 1440}}},
		{"Mon,Wed,Fri 08:30-12:15 Europe/Berlin", "Europe/Berlin", []HoursSpan{{days(mon, wed, fri), 510, 735}}},
		{"Mon-Tue,Thu,Sat-Sun 10:00-11:00 UTC", "UTC", []HoursSpan{{days(mon, tue, thu, sat, sun), 600, 660}}},
		{"Mon-Fri 22:00-06:00 UTC", "UTC", []HoursSpan{{weekdays, 1320, 360}}},
		{"Sun 20:00-00:00 Etc/GMT-9", "Etc/GMT-9", []HoursSpan{{days(sun), 1200, 0}}},
		{"Wed-Wed 09:00-10:00 UTC", "UTC", []HoursSpan{{days(wed), 540, 600}}},
	}
	for _, tc := range cases {
		h, err := ParseHours(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if tc.zone == "" {
			if !h.Always || h.Spans != nil {
				t.Errorf("%q: want always open, got %+v", tc.in, h)
			}
			continue
		}
		if h.Always || h.Loc == nil || h.Loc.String() != tc.zone {
			t.Errorf("%q: zone %v always=%v, want %s", tc.in, h.Loc, h.Always, tc.zone)
		}
		if len(h.Spans) != len(tc.spans) {
			t.Errorf("%q: spans %+v, want %+v", tc.in, h.Spans, tc.spans)
			continue
		}
		for i := range tc.spans {
			if h.Spans[i] != tc.spans[i] {
				t.Errorf("%q: span %d = %+v, want %+v", tc.in, i, h.Spans[i], tc.spans[i])
			}
		}
	}
}

// TestTeamValidateHours checks the field message a client sees for each
// kind of mistake.
func TestTeamValidateHours(t *testing.T) {
	cases := []struct {
		in   string
		want string // substring of the business_hours message; "" = valid
	}{
		{"24/7", ""},
		{"Mon-Fri 09:00-18:00 Asia/Seoul", ""},
		{"Mon-Fri 09:00-18:00 UTC", ""},
		{"Mon-Fri 09:00-18:00; Sat 10:00-14:00 Asia/Seoul", ""},
		{"Fri-Mon 22:00-06:00 America/New_York", ""},
		{"Mnd-Fri 09:00-18:00 UTC", `unknown day "Mnd"`},
		{"mon 09:00-18:00 UTC", `unknown day "mon"`},
		{"Mon-Fri,, 09:00-18:00 UTC", "missing day"},
		{"Mon-Fri 9:00-18:00 UTC", `bad time "9:00"`},
		{"Mon-Fri 09:00-25:00 UTC", `bad time "25:00"`},
		{"Mon-Fri 09:60-18:00 UTC", `bad time "09:60"`},
		{"Mon-Fri 24:00-06:00 UTC", `bad time "24:00"`},
		{"Mon-Fri 09:00-24:30 UTC", `bad time "24:30"`},
		{"Mon-Fri 09:00 UTC", `bad time range "09:00"`},
		{"Mon-Fri 09:00-09:00 UTC", "is empty"},
		{"Mon-Fri 09:00-18:00 Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"Mon-Fri 09:00-18:00 Local", `unknown time zone "Local"`},
		{"Mon-Fri 09:00-18:00 asia/seoul", `unknown time zone "asia/seoul"`},
		{"Mon-Fri 09:00-18:00", "missing time zone"},
		{"Mon-Fri 09:00-18:00; Sat 10:00-14:00", "missing time zone"},
		{"Asia/Seoul", `must be "24/7" or`},
		{"always", `must be "24/7" or`},
		{"Mon-Fri 09:00-18:00;; Sat 10:00-14:00 UTC", "segment 2: empty segment"},
		{"Mon-Fri 09:00-18:00; UTC", "segment 2: empty segment"},
		{"Mon-Fri 09:00-18:00; Sat 10:00-1400 UTC", `segment 2: bad time "1400"`},
		{"Mon-Fri 09:00-18:00 Sat 10:00-14:00 UTC", "want DAYS HH:MM-HH:MM"},
		{"Mon-Fri 09:00-18:00 UTC " + strings.Repeat("x", MaxBusinessHours), "at most 200 bytes"},
		{"Mon-Fri 09:00-18:00\x00 UTC", "control characters"},
	}
	for _, tc := range cases {
		tm := Team{Name: "VIP", Kind: TeamVIP, BusinessHours: tc.in}
		err := tm.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: unexpected %v", tc.in, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != EInvalid || !strings.Contains(e.Fields["business_hours"], tc.want) {
			t.Errorf("%q: want business_hours message containing %q, got %v", tc.in, tc.want, err)
		}
	}

	// Not set means always open and is stored as such.
	for _, in := range []string{"", "  "} {
		tm := Team{Name: "L1", Kind: TeamL1, BusinessHours: in}
		if err := tm.Validate(); err != nil || tm.BusinessHours != AlwaysOpen {
			t.Errorf("%q: got %q, %v; want %q", in, tm.BusinessHours, err, AlwaysOpen)
		}
	}
}

func TestHoursOpen(t *testing.T) {
	// 2026-01-05 is a Monday.
	cases := []struct {
		hours string
		at    string // local wall time in the schedule's zone
		want  bool
	}{
		{"24/7", "2026-01-10 03:00", true},
		{"", "2026-01-10 03:00", true},

		{"Mon-Fri 09:00-18:00 Asia/Seoul", "2026-01-05 08:59", false},
		{"Mon-Fri 09:00-18:00 Asia/Seoul", "2026-01-05 09:00", true},
		{"Mon-Fri 09:00-18:00 Asia/Seoul", "2026-01-09 17:59", true},
		{"Mon-Fri 09:00-18:00 Asia/Seoul", "2026-01-09 18:00", false},
		{"Mon-Fri 09:00-18:00 Asia/Seoul", "2026-01-10 12:00", false},

		{"Mon-Fri 09:00-18:00; Sat 10:00-14:00 UTC", "2026-01-10 10:00", true},
		{"Mon-Fri 09:00-18:00; Sat 10:00-14:00 UTC", "2026-01-10 14:00", false},
		{"Mon-Fri 09:00-18:00; Sat 10:00-14:00 UTC", "2026-01-11 11:00", false},

		// Crossing midnight: Mon-Fri evenings run into the next morning.
		{"Mon-Fri 22:00-06:00 UTC", "2026-01-05 21:59", false},
		{"Mon-Fri 22:00-06:00 UTC", "2026-01-05 22:00", true},
		{"Mon-Fri 22:00-06:00 UTC", "2026-01-06 05:59", true},
		{"Mon-Fri 22:00-06:00 UTC", "2026-01-06 06:00", false},
		{"Mon-Fri 22:00-06:00 UTC", "2026-01-10 05:00", true},  // Friday night into Saturday
		{"Mon-Fri 22:00-06:00 UTC", "2026-01-10 22:00", false}, // Saturday evening
		{"Mon-Fri 22:00-06:00 UTC", "2026-01-05 05:00", false}, // Monday morning: Sunday not listed
		{"Sun 20:00-00:00 UTC", "2026-01-11 23:59", true},
		{"Sun 20:00-00:00 UTC", "2026-01-12 00:00", false},

		// 24:00 ends at midnight.
		{"Mon 18:00-24:00 UTC", "2026-01-05 23:59", true},
		{"Mon 18:00-24:00 UTC", "2026-01-06 00:00", false},
		{"Mon 00:00-24:00 UTC", "2026-01-05 00:00", true},
		{"Mon 00:00-24:00 UTC", "2026-01-04 23:59", false},

		// Wrap-around day ranges and lists.
		{"Sat-Mon 10:00-16:00 UTC", "2026-01-10 12:00", true},
		{"Sat-Mon 10:00-16:00 UTC", "2026-01-11 12:00", true},
		{"Sat-Mon 10:00-16:00 UTC", "2026-01-12 12:00", true},
		{"Sat-Mon 10:00-16:00 UTC", "2026-01-13 12:00", false},
		{"Sat-Mon 10:00-16:00 UTC", "2026-01-09 12:00", false},
		{"Mon,Wed,Fri 10:00-16:00 UTC", "2026-01-07 12:00", true},
		{"Mon,Wed,Fri 10:00-16:00 UTC", "2026-01-08 12:00", false},
		{"Fri-Sun 22:00-02:00 UTC", "2026-01-12 01:00", true}, // Sunday night into Monday
		{"Fri-Sun 22:00-02:00 UTC", "2026-01-09 01:00", false},
	}
	for _, tc := range cases {
		h, err := ParseHours(tc.hours)
		if err != nil {
			t.Fatalf("%q: %v", tc.hours, err)
		}
		loc := h.Loc
		if loc == nil {
			loc = time.UTC
		}
		at, err := time.ParseInLocation("2006-01-02 15:04", tc.at, loc)
		if err != nil {
			t.Fatal(err)
		}
		// The instant is handed over in UTC: Open must convert it.
		if got := h.Open(at.UTC()); got != tc.want {
			t.Errorf("%q at %s (%s): open=%v, want %v", tc.hours, tc.at, at.Weekday(), got, tc.want)
		}
	}
}

// TestHoursOpenDST checks that spans follow the zone's wall clock across
// daylight-saving changes, with instants given in UTC.
func TestHoursOpenDST(t *testing.T) {
	cases := []struct {
		hours string
		utc   string
		want  bool
	}{
		// New York: 2026-03-08 02:00 EST jumps to 03:00 EDT. Office hours
		// start at 09:00 local before (14:00 UTC) and after (13:00 UTC).
		{"Mon-Fri 09:00-18:00 America/New_York", "2026-03-06T13:30:00Z", false}, // Fri 08:30 EST
		{"Mon-Fri 09:00-18:00 America/New_York", "2026-03-06T14:00:00Z", true},  // Fri 09:00 EST
		{"Mon-Fri 09:00-18:00 America/New_York", "2026-03-06T22:30:00Z", true},  // Fri 17:30 EST
		{"Mon-Fri 09:00-18:00 America/New_York", "2026-03-09T13:00:00Z", true},  // Mon 09:00 EDT
		{"Mon-Fri 09:00-18:00 America/New_York", "2026-03-09T22:00:00Z", false}, // Mon 18:00 EDT
		// A night span across the gap: 02:00-03:00 local does not exist.
		{"Sat 23:00-03:00 America/New_York", "2026-03-08T06:59:00Z", true},  // Sun 01:59 EST
		{"Sat 23:00-03:00 America/New_York", "2026-03-08T07:00:00Z", false}, // Sun 03:00 EDT
		// Berlin: 2026-10-25 03:00 CEST falls back to 02:00 CET; the
		// repeated hour is open on both passes.
		{"Sun 02:00-03:00 Europe/Berlin", "2026-10-24T23:59:00Z", false},     // 01:59 CEST
		{"Sun 02:00-03:00 Europe/Berlin", "2026-10-25T00:30:00Z", true},      // 02:30 CEST
		{"Sun 02:00-03:00 Europe/Berlin", "2026-10-25T01:30:00Z", true},      // 02:30 CET
		{"Sun 02:00-03:00 Europe/Berlin", "2026-10-25T02:00:00Z", false},     // 03:00 CET
		{"Mon-Fri 09:00-18:00 Europe/Berlin", "2026-10-23T07:00:00Z", true},  // Fri 09:00 CEST
		{"Mon-Fri 09:00-18:00 Europe/Berlin", "2026-10-26T07:30:00Z", false}, // Mon 08:30 CET
		{"Mon-Fri 09:00-18:00 Europe/Berlin", "2026-10-26T08:00:00Z", true},  // Mon 09:00 CET
	}
	for _, tc := range cases {
		h, err := ParseHours(tc.hours)
		if err != nil {
			t.Fatalf("%q: %v", tc.hours, err)
		}
		at, err := time.Parse(time.RFC3339, tc.utc)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Open(at); got != tc.want {
			t.Errorf("%q at %s (%s): open=%v, want %v", tc.hours, tc.utc, at.In(h.Loc).Format("Mon 15:04 MST"), got, tc.want)
		}
	}
}
