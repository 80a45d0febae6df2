package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/links"
	"hazardwatch/live"
	"hazardwatch/mail"
	"hazardwatch/photo"
	"hazardwatch/store"
)

// Consumer is one reaction to report events, with its own consumer group. Handle must be
// idempotent: effects keyed by the event's EID, so a redelivered event changes nothing twice.
type Consumer struct {
	Group  string
	Handle func(ctx context.Context, e store.Event) error
}

// Tuning sets the retry timings (tests shorten them); zero values take the Runner defaults.
type Tuning struct {
	ClaimAfter, Backoff time.Duration
	MaxTries            int
	SweepEvery          time.Duration // how often the outbox sweeper and the expiry job run (default 10 s and 30 s)
	PhotoGrace          time.Duration // how old an unreferenced photo must be to go (default photo.Grace)
}

// Deps is what the workers need.
type Deps struct {
	Store    *store.Store
	Life     *lifecycle.Service
	Sender   mail.Sender
	BaseURL  string
	Log      *slog.Logger
	Consumer string     // this process's consumer name, unique
	Tuning   Tuning     // zero: production timings
	Extra    []Consumer // reactions later features add (routing to bodies, area alerts...)
	PhotoDir string     // where photos live: swept of files no report names ("" skips the sweep)
	Done     func(group string, err error)
	// Links signs the links mails carry (nil: made from Store); QuestionnaireAfter is
	// QUESTIONNAIRE_AFTER (0: DefaultQuestionnaireAfter).
	Links              *links.Links
	QuestionnaireAfter time.Duration
}

// Event consumer groups.
const (
	LiveGroup   = "live"
	StatsGroup  = "stats"
	NotifyGroup = "notify"
)

// Consumers are the standard reactions to report events.
func Consumers(d Deps) []Consumer {
	return append([]Consumer{
		{Group: LiveGroup, Handle: func(ctx context.Context, e store.Event) error { return publishLive(ctx, d, e) }},
		{Group: StatsGroup, Handle: d.Store.ApplyStats},
		{Group: NotifyGroup, Handle: func(ctx context.Context, e store.Event) error { return notify(ctx, d, e) }},
	}, alertConsumers(d)...)
}

// Start runs every consumer, the mail sender and the periodic jobs until ctx ends; the returned
// function waits for them to stop.
func Start(ctx context.Context, d Deps) (wait func()) {
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	consumers := append(Consumers(d), d.Extra...)
	// Make every group now, before this process writes anything: a group made later starts at
	// the stream's end and would miss what was written meanwhile. (If Redis is down, the runners
	// make them when it is back.)
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	for _, c := range consumers {
		_ = d.Store.EnsureGroup(gctx, store.EventsStream, c.Group)
	}
	_ = d.Store.EnsureGroup(gctx, store.MailStream, store.MailGroup)
	cancel()
	for _, c := range consumers {
		r := EventRunner(d, c)
		run(func() { r.Run(ctx) })
	}
	m := MailRunner(d)
	run(func() { m.Run(ctx) })
	every := d.Tuning.SweepEvery
	if every == 0 {
		every = 10 * time.Second
	}
	run(func() {
		jobLoop(ctx, d.Log, "outbox sweeper", every, func(ctx context.Context) (int, error) { return d.Store.SweepOutbox(ctx, time.Now(), 200) })
	})
	startAlertJobs(ctx, d, run, every)
	expiry := 3 * every
	run(func() {
		jobLoop(ctx, d.Log, "expiry", expiry, func(ctx context.Context) (int, error) { return d.Life.ExpireDue(ctx, time.Now(), expiry) })
	})
	cleanup := 30 * every
	run(func() {
		jobLoop(ctx, d.Log, "unconfirmed report cleanup", cleanup, func(ctx context.Context) (int, error) {
			return d.Life.CleanupUnconfirmed(ctx, time.Now(), cleanup)
		})
	})
	if d.PhotoDir != "" {
		run(func() {
			jobLoop(ctx, d.Log, "photo sweeper", 30*every, func(ctx context.Context) (int, error) { return SweepPhotos(ctx, d) })
		})
	}
	return wg.Wait
}

// SweepPhotos removes photo files no report names (failed or abandoned forms, removed photos)
// once they are older than the grace period. One instance a round (a lock), though two at
// once would also be safe.
func SweepPhotos(ctx context.Context, d Deps) (int, error) {
	grace := d.Tuning.PhotoGrace
	if grace == 0 {
		grace = photo.Grace
	}
	if ok, err := d.Store.TryLock(ctx, "photo-sweep", time.Minute); err != nil || !ok {
		return 0, err
	}
	return photo.Sweep(ctx, d.PhotoDir, grace, time.Now(), func(ctx context.Context, hash string) (bool, error) {
		rs, err := d.Store.PhotoReports(ctx, hash)
		return len(rs) > 0, err
	})
}

// EventRunner is the runner of one event consumer.
func EventRunner(d Deps, c Consumer) *Runner {
	return &Runner{
		Store: d.Store, Stream: store.EventsStream, Group: c.Group, Consumer: d.Consumer, Log: d.Log, Done: d.Done,
		ClaimAfter: d.Tuning.ClaimAfter, Backoff: d.Tuning.Backoff, MaxTries: d.Tuning.MaxTries,
		Handle: func(ctx context.Context, m store.Message) error {
			e, err := m.Event()
			if err != nil {
				return err
			}
			return c.Handle(ctx, e)
		},
	}
}

// MailRunner sends queued mail at least once per key, retrying for about a day.
func MailRunner(d Deps) *Runner {
	tries := d.Tuning.MaxTries
	if tries == 0 {
		tries = 30 // with the backoff capped at an hour: about a day of tries
	}
	claim := d.Tuning.ClaimAfter
	if claim == 0 {
		claim = 30 * time.Second
	}
	return &Runner{
		Store: d.Store, Stream: store.MailStream, Group: store.MailGroup, Consumer: d.Consumer, Log: d.Log, Done: d.Done,
		ClaimAfter: claim, Backoff: d.Tuning.Backoff, MaxTries: tries, DeleteDone: true,
		Handle: func(ctx context.Context, m store.Message) error {
			return sendMail(ctx, d, store.QueuedMailOf(m), claim)
		},
	}
}

// sendMail sends one queued mail unless its key went out already. A lease (as long as another
// instance waits before taking a message over) keeps two workers from sending the same key at
// once; a crash after sending and before recording it repeats the mail (at least once), never
// loses it.
func sendMail(ctx context.Context, d Deps, q store.QueuedMail, lease time.Duration) error {
	if sent, err := d.Store.MailSent(ctx, q.Key); err != nil || sent {
		return err
	}
	ok, err := d.Store.LeaseMail(ctx, q.Key, lease)
	if err != nil {
		return err
	}
	if !ok {
		return ErrBusy
	}
	if err := d.Sender.Send(ctx, mail.Message{To: q.To, Subject: q.Subject, Text: q.Text, HTML: q.HTML, Link: q.Link, Headers: q.Headers}); err != nil {
		_ = d.Store.ReleaseMail(context.WithoutCancel(ctx), q.Key)
		return err
	}
	return d.Store.MailDone(context.WithoutCancel(ctx), q.Key)
}

// jobLoop runs a periodic job.
func jobLoop(ctx context.Context, log *slog.Logger, name string, every time.Duration, job func(context.Context) (int, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := job(ctx); err != nil && ctx.Err() == nil {
			log.Warn(name+" failed", "err", err)
		} else if n > 0 {
			log.Info(name, "count", n)
		}
	}
}

// publishLive publishes a change to every instance's browsers, once per report version, and only when
// the public saw the report before or sees it now (a report nobody may see stays unmentioned).
func publishLive(ctx context.Context, d Deps, e store.Event) error {
	before, after := e.Markers()
	if !d.Life.PublicNow(after.Status) && (before.Status == "" || !d.Life.PublicNow(before.Status)) {
		return nil
	}
	first, err := d.Store.Once(ctx, LiveGroup, e.Report+":"+strconv.FormatInt(e.Version, 10), time.Hour)
	if err != nil || !first {
		return err
	}
	kind := "report.updated"
	if before.Status == "" || !d.Life.PublicNow(before.Status) {
		kind = "report.created" // new to the public's map
	}
	u := live.Event{Kind: kind, ID: e.Report, Lat: after.Lat, Lng: after.Lng, Type: after.Type, Severity: after.Severity, Status: string(after.Status)}
	return d.Store.PublishLive(ctx, u.Format())
}

// notify mails the people a status change concerns: its reporter (rejections, expiries and
// duplicates too, each with its own mail) and its followers (status changes only, without a
// rejection's reasons), never the person who made the change, nor anyone who switched mails off.
// Each mail is queued under the event id and the recipient, so a redelivered event sends nothing
// twice.
func notify(ctx context.Context, d Deps, e store.Event) error {
	if e.Data["correction"] != "" {
		return notifyCorrection(ctx, d, e)
	}
	if e.Kind != lifecycle.StatusChanged {
		return nil
	}
	r, err := d.Store.Report(ctx, e.Report)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	action := hazard.Action(e.Data["action"])
	to := hazard.Status(e.Data["to"])
	t, _ := hazard.TypeByCode(r.Type)
	recipients := []string{r.ReporterID}
	if action != hazard.Reject && action != hazard.Withdraw {
		fs, err := d.Store.Followers(ctx, r.ID)
		if err != nil {
			return err
		}
		recipients = append(recipients, fs...)
	}
	base := d.BaseURL
	seen := map[string]bool{e.Actor: true}
	for i, uid := range recipients {
		if seen[uid] || uid == "" {
			continue
		}
		seen[uid] = true
		reporter := i == 0
		u, err := d.Store.UserByID(ctx, uid)
		if errors.Is(err, store.ErrNotFound) {
			if reporter && r.ContactEmail != "" && (action == hazard.Expire || action == hazard.MarkDuplicate) {
				if err := notifyContact(ctx, d, e, r); err != nil {
					return err
				}
			}
			continue // API reporters and unknown ids have no account
		}
		if err != nil {
			return err
		}
		if u.NoMail || u.Disabled {
			continue
		}
		// In the recipient's language, not the moderator's.
		lctx := i18n.With(ctx, i18n.For(u.Lang))
		rep := mail.ReportData{Common: mail.Common{Name: u.Name, AccountURL: base + "/account"}, Type: t.Label(lctx), Link: base + "/reports/" + r.ID}
		if reporter && (action == hazard.Expire || action == hazard.MarkDuplicate) {
			if rep.StillThere, err = d.stillThereLink(ctx, cmp.Or(e.Data["duplicate_of"], r.ID), uid); err != nil {
				return err
			}
		}
		var kind mail.Kind
		var data any
		switch {
		case reporter && action == hazard.Expire:
			kind, data = mail.Expired, rep
		case reporter && action == hazard.MarkDuplicate:
			kind, data = mail.Duplicate, mail.DuplicateData{ReportData: rep, OriginalLink: base + "/reports/" + e.Data["duplicate_of"], Note: e.Note}
		default:
			kind, data = mail.Status, mail.StatusData{ReportData: rep, Status: to.Label(lctx), Note: e.Note, Reporter: reporter}
		}
		if err := Enqueue(lctx, d.Store, e.EID+":"+uid, u.Email, kind, data); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue renders a mail and queues it under key.
func Enqueue(ctx context.Context, st *store.Store, key, to string, kind mail.Kind, data any) error {
	return EnqueueWith(ctx, st, key, to, kind, data, nil)
}

// EnqueueWith is Enqueue with extra header fields (Reply-To, List-Unsubscribe...).
func EnqueueWith(ctx context.Context, st *store.Store, key, to string, kind mail.Kind, data any, headers map[string]string) error {
	m, err := mail.Render(ctx, kind, data)
	if err != nil {
		return err
	}
	link := ""
	if l, ok := data.(interface{ MainLink() string }); ok {
		link = l.MainLink()
	}
	if err := st.EnqueueMail(ctx, store.QueuedMail{Key: key, To: to, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Link: link, Headers: headers}); err != nil {
		return fmt.Errorf("queueing a %s mail: %w", kind, err)
	}
	return nil
}
