package worker

import (
	"cmp"
	"context"
	"errors"
	"net/url"
	"time"
	"unicode/utf8"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/links"
	"hazardwatch/mail"
	"hazardwatch/store"
)

// Consumer groups of issue 16: area alerts, mails about public updates, the questionnaire's
// schedule.
const (
	AlertsGroup        = "alerts"
	UpdatesGroup       = "updates"
	QuestionnaireGroup = "questionnaire"
)

// DefaultQuestionnaireAfter is QUESTIONNAIRE_AFTER's default: four weeks.
const DefaultQuestionnaireAfter = 28 * 24 * time.Hour

// answerTTL is how long a questionnaire link works.
const answerTTL = 30 * 24 * time.Hour

func alertConsumers(d Deps) []Consumer {
	return []Consumer{
		{Group: AlertsGroup, Handle: func(ctx context.Context, e store.Event) error { return alertMatch(ctx, d, e) }},
		{Group: UpdatesGroup, Handle: func(ctx context.Context, e store.Event) error { return updateMails(ctx, d, e) }},
		{Group: QuestionnaireGroup, Handle: func(ctx context.Context, e store.Event) error { return scheduleQuestionnaire(ctx, d, e) }},
	}
}

// startAlertJobs runs the digest and questionnaire jobs: every instance looks once a minute (or
// every SweepEvery in tests); claims in Redis give each digest and questionnaire to one.
func startAlertJobs(ctx context.Context, d Deps, run func(func()), every time.Duration) {
	every = min(every*6, time.Minute)
	run(func() {
		jobLoop(ctx, d.Log, "alert digests", every, func(ctx context.Context) (int, error) { return SendDigests(ctx, d, time.Now()) })
	})
	run(func() {
		jobLoop(ctx, d.Log, "questionnaires", every, func(ctx context.Context) (int, error) { return SendQuestionnaires(ctx, d, time.Now()) })
	})
}

func (d Deps) links() *links.Links {
	if d.Links != nil {
		return d.Links
	}
	return links.New(d.Store)
}

// unsubscribeHeaders are RFC 2369 and RFC 8058's one-click unsubscribe headers for link.
func unsubscribeHeaders(link string) map[string]string {
	return map[string]string{"List-Unsubscribe": "<" + link + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
}

func (d Deps) unsubscribeLink(ctx context.Context, u links.Unsubscribe) (string, error) {
	tok, err := d.links().UnsubscribeToken(ctx, u)
	if err != nil {
		return "", err
	}
	return d.BaseURL + "/alerts/unsubscribe?token=" + url.QueryEscape(tok), nil
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// alertMatch mails the owners of the alerts covering a report that just became public: one mail
// per user and report however many of their alerts match (keyed by report and user, so a
// redelivered event, or a report published twice, sends nothing again), or a line in their
// digest when all their matching alerts ask for one. The reporter is not told of their own.
func alertMatch(ctx context.Context, d Deps, e store.Event) error {
	if e.Kind != lifecycle.Published {
		return nil
	}
	r, err := d.Store.Report(ctx, e.Report)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !d.Life.PublicNow(r.Status) {
		return nil // hidden again before we got here
	}
	matches, err := d.Store.MatchAlerts(ctx, r.Lat, r.Lng, r.Type)
	if err != nil {
		return err
	}
	t, _ := hazard.TypeByCode(r.Type)
	for _, m := range matches {
		if m.UserID == r.ReporterID {
			continue
		}
		u, err := d.Store.UserByID(ctx, m.UserID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			continue
		}
		if !m.Immediate() {
			if err := d.Store.AddToDigest(ctx, u.ID, r.ID, e.At); err != nil {
				return err
			}
			continue
		}
		a := m.Alerts[0]
		unsub, err := d.unsubscribeLink(ctx, links.Unsubscribe{User: u.ID, Alert: a.ID})
		if err != nil {
			return err
		}
		lctx := i18n.With(ctx, i18n.For(u.Lang))
		data := mail.AlertData{
			Common: mail.Common{Name: u.Name, AccountURL: d.BaseURL + "/account"}, Area: a.Name,
			Type: t.Label(lctx), Description: clip(r.Description, 300), Address: r.Address,
			Link: d.BaseURL + "/reports/" + r.ID, AlertsURL: d.BaseURL + "/alerts", Unsubscribe: unsub,
		}
		if err := EnqueueWith(lctx, d.Store, "alert:"+r.ID+":"+u.ID, u.Email, mail.Alert, data, unsubscribeHeaders(unsub)); err != nil {
			return err
		}
	}
	return nil
}

// SendDigests mails every digest that is due; each is claimed for a few minutes, so another
// instance takes it over only if this one dies, and its mail key (from its reports) keeps a
// digest sent twice from arriving twice.
func SendDigests(ctx context.Context, d Deps, now time.Time) (int, error) {
	uids, err := d.Store.DueDigests(ctx, now, 5*time.Minute, 100)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, uid := range uids {
		rids, err := d.Store.DigestItems(ctx, uid)
		if err != nil {
			return sent, err
		}
		u, err := d.Store.UserByID(ctx, uid)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return sent, err
		}
		if u != nil && !u.Disabled && len(rids) > 0 {
			rs, err := d.Store.ReportsByID(ctx, rids)
			if err != nil {
				return sent, err
			}
			var items []mail.DigestItem
			for _, r := range rs {
				if d.Life.PublicNow(r.Status) {
					t, _ := hazard.TypeByCode(r.Type)
					items = append(items, mail.DigestItem{Type: t.Label(i18n.With(ctx, i18n.For(u.Lang))), Address: r.Address, Link: d.BaseURL + "/reports/" + r.ID})
				}
			}
			if len(items) > 0 {
				unsub, err := d.unsubscribeLink(ctx, links.Unsubscribe{User: uid, Alert: "*"})
				if err != nil {
					return sent, err
				}
				data := mail.DigestData{Common: mail.Common{Name: u.Name, AccountURL: d.BaseURL + "/account"}, Items: items,
					AlertsURL: d.BaseURL + "/alerts", Unsubscribe: unsub}
				if err := EnqueueWith(i18n.With(ctx, i18n.For(u.Lang)), d.Store, store.DigestKey(uid, rids), u.Email, mail.Digest, data, unsubscribeHeaders(unsub)); err != nil {
					return sent, err
				}
				sent++
			}
		}
		if err := d.Store.FinishDigest(ctx, uid, rids, now); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// updateMails tells a report's reporter and followers of a public update: one mail per update and
// person, never to its author, nor to anyone who switched mails off.
func updateMails(ctx context.Context, d Deps, e store.Event) error {
	if e.Kind != lifecycle.UpdateAdded {
		return nil
	}
	r, err := d.Store.Report(ctx, e.Report)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var up *store.Update
	for i := range r.Updates {
		if r.Updates[i].ID == e.Data["update"] {
			up = &r.Updates[i]
		}
	}
	if up == nil || up.Hidden() {
		return nil
	}
	followers, err := d.Store.Followers(ctx, r.ID)
	if err != nil {
		return err
	}
	t, _ := hazard.TypeByCode(r.Type)
	seen := map[string]bool{up.By: true}
	for i, uid := range append([]string{r.ReporterID}, followers...) {
		if seen[uid] || uid == "" {
			continue
		}
		seen[uid] = true
		u, err := d.Store.UserByID(ctx, uid)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if u.NoMail || u.Disabled {
			continue
		}
		data := mail.UpdateData{
			ReportData: mail.ReportData{Common: mail.Common{Name: u.Name, AccountURL: d.BaseURL + "/account"}, Type: t.Label(i18n.With(ctx, i18n.For(u.Lang))), Link: d.BaseURL + "/reports/" + r.ID + "#update-" + up.ID},
			Text:       clip(up.Text, 500), Fixed: up.Fixed, Reporter: i == 0, Body: up.BodyName,
		}
		if err := Enqueue(i18n.With(ctx, i18n.For(u.Lang)), d.Store, e.EID+":"+uid, u.Email, mail.Update, data); err != nil {
			return err
		}
	}
	return nil
}

func (d Deps) questionnaireAfter() time.Duration {
	if d.QuestionnaireAfter > 0 {
		return d.QuestionnaireAfter
	}
	return DefaultQuestionnaireAfter
}

// scheduleQuestionnaire plans the "has it been fixed?" mail QUESTIONNAIRE_AFTER after a report
// became open or in progress, and drops the plan when it is closed.
func scheduleQuestionnaire(ctx context.Context, d Deps, e store.Event) error {
	if e.Kind != lifecycle.StatusChanged {
		return nil
	}
	from, to := hazard.Status(e.Data["from"]), hazard.Status(e.Data["to"])
	working := func(s hazard.Status) bool { return s == hazard.Open || s == hazard.InProgress }
	switch {
	case working(to) && !working(from):
		return d.Store.ScheduleQuestionnaire(ctx, e.Report, e.At.Add(d.questionnaireAfter()))
	case !working(to):
		return d.Store.UnscheduleQuestionnaire(ctx, e.Report)
	}
	return nil
}

// SendQuestionnaires mails the questionnaires that are due: each report is claimed by one
// instance, and asked at most once in its life (MarkAsked), whatever happens after; a report
// that is no longer open, or whose reporter cannot be mailed, is dropped.
func SendQuestionnaires(ctx context.Context, d Deps, now time.Time) (int, error) {
	rids, err := d.Store.DueQuestionnaires(ctx, now, 5*time.Minute, 100)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, rid := range rids {
		ok, err := askQuestionnaire(ctx, d, rid, now)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
		if err := d.Store.UnscheduleQuestionnaire(ctx, rid); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func askQuestionnaire(ctx context.Context, d Deps, rid string, now time.Time) (bool, error) {
	r, err := d.Store.Report(ctx, rid)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if r.Status != hazard.Open && r.Status != hazard.InProgress {
		return false, nil
	}
	to, name, lang := r.ContactEmail, "", ""
	if u, err := d.Store.UserByID(ctx, r.ReporterID); err == nil {
		if u.Disabled || u.NoMail {
			return false, nil
		}
		to, name, lang = u.Email, u.Name, u.Lang
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if to == "" {
		return false, nil
	}
	first, err := d.Store.MarkAsked(ctx, rid, now)
	if err != nil || !first {
		return false, err
	}
	tok, err := d.Store.NewAnswerToken(ctx, store.Answer{Report: rid, By: r.ReporterID}, answerTTL)
	if err != nil {
		return false, err
	}
	t, _ := hazard.TypeByCode(r.Type)
	data := mail.QuestionnaireData{
		ReportData: mail.ReportData{Common: mail.Common{Name: name, AccountURL: d.BaseURL + "/account"}, Type: t.Label(i18n.With(ctx, i18n.For(lang))), Link: d.BaseURL + "/reports/" + rid},
		Answer:     d.BaseURL + "/questionnaire/" + tok,
	}
	return true, Enqueue(i18n.With(ctx, i18n.For(lang)), d.Store, "questionnaire:"+rid, to, mail.Questionnaire, data)
}

// stillThereLink is the signed "it is still there" link for report rid, said by by.
func (d Deps) stillThereLink(ctx context.Context, rid, by string) (string, error) {
	tok, err := d.links().StillThereToken(ctx, links.StillThere{Report: rid, By: by})
	if err != nil {
		return "", err
	}
	return d.BaseURL + "/reports/" + rid + "/still-there?token=" + url.QueryEscape(tok), nil
}

// notifyContact tells a reporter without an account (an Open311 reporter who left an email)
// that their report expired or joined an earlier one, with a "still there" link and a one-click
// way to stop these mails.
func notifyContact(ctx context.Context, d Deps, e store.Event, r *store.Report) error {
	t, _ := hazard.TypeByCode(r.Type)
	unsub, err := d.unsubscribeLink(ctx, links.Unsubscribe{Report: r.ID})
	if err != nil {
		return err
	}
	rep := mail.ReportData{Type: t.Label(ctx), Link: d.BaseURL + "/reports/" + r.ID, Unsubscribe: unsub}
	target := cmp.Or(e.Data["duplicate_of"], r.ID)
	if rep.StillThere, err = d.stillThereLink(ctx, target, r.ReporterID); err != nil {
		return err
	}
	var kind mail.Kind = mail.Expired
	var data any = rep
	if hazard.Action(e.Data["action"]) == hazard.MarkDuplicate {
		kind, data = mail.Duplicate, mail.DuplicateData{ReportData: rep, OriginalLink: d.BaseURL + "/reports/" + target, Note: e.Note}
	}
	return EnqueueWith(ctx, d.Store, e.EID+":contact", r.ContactEmail, kind, data, unsubscribeHeaders(unsub))
}
