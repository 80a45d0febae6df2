package i18n

import (
	"context"
	"time"
)

// Dates, times and numbers come from CLDR (Lang.CLDR); relative times ("5 minutes ago") from the
// catalogs' plural messages. Pages also carry the instant in <time datetime>, and the browser
// rewrites it in the viewer's own time zone (static/js/app.js); these are the words without
// JavaScript, in the server's zone (TIME_ZONE).

type zoneKey struct{}

// WithZone puts the time zone pages speak in into a context.
func WithZone(ctx context.Context, z *time.Location) context.Context {
	return context.WithValue(ctx, zoneKey{}, z)
}

// Zone is the context's time zone (UTC when none was put there).
func Zone(ctx context.Context) *time.Location {
	if z, ok := ctx.Value(zoneKey{}).(*time.Location); ok && z != nil {
		return z
	}
	return time.UTC
}

// Date is t's day, spelled out: "November 27, 2026", "27 בנובמבר 2026".
func (l *Localizer) Date(t time.Time, z *time.Location) string {
	return l.lang.CLDR.FmtDateLong(t.In(z))
}

// DateTime is t's day and time: "November 27, 2026 at 2:05 pm", "27 בנובמבר 2026 בשעה 14:05".
func (l *Localizer) DateTime(t time.Time, z *time.Location) string {
	t = t.In(z)
	return l.T("time.date_time", map[string]any{"Date": l.lang.CLDR.FmtDateLong(t), "Time": l.lang.CLDR.FmtTimeShort(t)})
}

// Int is n with the language's digit grouping: "12,345".
func (l *Localizer) Int(n int) string { return l.lang.CLDR.FmtNumber(float64(n), 0) }

// Ago says how long before now t was: "just now", "5 minutes ago", "לפני 5 דקות"; after a
// month, the date.
func (l *Localizer) Ago(t, now time.Time, z *time.Location) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return l.T("time.just_now")
	case d < time.Hour:
		return l.N("time.minutes_ago", int(d/time.Minute))
	case d < 24*time.Hour:
		return l.N("time.hours_ago", int(d/time.Hour))
	case d < 31*24*time.Hour:
		return l.N("time.days_ago", int(d/(24*time.Hour)))
	}
	return l.Date(t, z)
}

// Duration says how long d is, rounded up: "40 seconds", "a minute", "3 hours".
func (l *Localizer) Duration(d time.Duration) string { return l.Msg(DurationMsg(d)) }

// DurationMsg is Duration to be said later (inside a sentence: "try again in {{.Wait}}").
func DurationMsg(d time.Duration) Msg {
	switch {
	case d < time.Minute:
		return M("time.seconds", "Count", int(d.Seconds())+1)
	case d < 2*time.Minute:
		return M("time.a_minute")
	case d < time.Hour:
		return M("time.minutes", "Count", int(d.Minutes())+1)
	default:
		return M("time.hours", "Count", int(d.Hours())+1)
	}
}

// DateTime is From(ctx).DateTime in ctx's zone.
func DateTime(ctx context.Context, t time.Time) string { return From(ctx).DateTime(t, Zone(ctx)) }

// Date is From(ctx).Date in ctx's zone.
func Date(ctx context.Context, t time.Time) string { return From(ctx).Date(t, Zone(ctx)) }

// Ago is From(ctx).Ago from now.
func Ago(ctx context.Context, t time.Time) string { return From(ctx).Ago(t, time.Now(), Zone(ctx)) }

// Int is From(ctx).Int.
func Int(ctx context.Context, n int) string { return From(ctx).Int(n) }

// Duration is From(ctx).Duration.
func Duration(ctx context.Context, d time.Duration) string { return From(ctx).Duration(d) }
