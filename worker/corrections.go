package worker

import (
	"context"
	"errors"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/mail"
	"hazardwatch/store"
)

// notifyCorrection tells a reporter that a moderator corrected their report (the description, a
// photo, the type or the place) and why, in the reporter's language, once per event.
func notifyCorrection(ctx context.Context, d Deps, e store.Event) error {
	r, err := d.Store.Report(ctx, e.Report)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.ReporterID == "" || r.ReporterID == e.Actor {
		return nil
	}
	u, err := d.Store.UserByID(ctx, r.ReporterID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // API reporters and guests have no account
	}
	if err != nil {
		return err
	}
	if u.NoMail || u.Disabled {
		return nil
	}
	ctx = i18n.With(ctx, i18n.For(u.Lang)) // the reporter's language, not the moderator's
	t, _ := hazard.TypeByCode(r.Type)
	data := mail.CorrectedData{
		ReportData: mail.ReportData{Common: mail.Common{Name: u.Name, AccountURL: d.BaseURL + "/account"},
			Type: t.Label(ctx), Link: d.BaseURL + "/reports/" + r.ID},
		What: correctionWords(ctx, e.Data["correction"]), Reason: e.Note,
	}
	return Enqueue(ctx, d.Store, e.EID+":"+u.ID, u.Email, mail.Corrected, data)
}

func correctionWords(ctx context.Context, what string) string {
	switch what {
	case lifecycle.CorrectedPhoto:
		return i18n.T(ctx, "moderation.mail.what.photo")
	case lifecycle.CorrectedType:
		return i18n.T(ctx, "moderation.mail.what.type")
	case lifecycle.CorrectedPlace:
		return i18n.T(ctx, "moderation.mail.what.place")
	}
	return i18n.T(ctx, "moderation.mail.what.description")
}
