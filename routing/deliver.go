package routing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"hazardwatch/georeport"
	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/mail"
	"hazardwatch/store"
	"hazardwatch/worker"
)

// What a crash does. A job is acknowledged only after its record says sent (or failed). A sender
// that dies before that leaves the job pending; another instance takes it over after ClaimAfter
// and sends again: at least once. Two senders never work on one (report, body) at once (a lease
// as long as ClaimAfter). The repeat a crash can cause: by email, the mail queue keys the mail by
// (report, body, job) and drops a second copy once the first went out, so a repeat happens only
// if the crash falls between the SMTP server's answer and the queue's record of it; by Open311,
// GeoReport v2 has no idempotency key, so a crash between the server's answer and our record of
// it posts the request twice (the description carries our reference, so the body's staff can
// spot it).

// failure is a send that went wrong: key names it for moderators (bodies catalog), detail is the
// outside server's own words, permanent says that trying again cannot help.
type failure struct {
	key       string
	detail    string
	permanent bool
}

func (f *failure) Error() string { return f.key + ": " + f.detail }

// Deliver handles one job of the delivery stream.
func (s *Service) Deliver(ctx context.Context, m store.Message, lease time.Duration) error {
	j := store.DeliveryJobOf(m)
	current := func() (store.Delivery, bool, error) {
		d, err := s.st.Delivery(ctx, j.Report, j.Body)
		if errors.Is(err, store.ErrNotFound) {
			return d, false, nil
		}
		if err != nil {
			return d, false, err
		}
		// A spare copy of a job, a job a newer one replaced, or one already finished.
		return d, d.Reason == j.Reason && (d.State == store.DeliveryQueued || d.State == store.DeliveryRetrying), nil
	}
	if _, ok, err := current(); err != nil || !ok {
		return err
	}
	lock := "send:" + j.Report + ":" + j.Body
	got, err := s.st.TryLock(ctx, lock, lease)
	if err != nil {
		return err
	}
	if !got {
		return worker.ErrBusy
	}
	defer func() { _ = s.st.ReleaseLock(context.WithoutCancel(ctx), lock) }()
	d, ok, err := current() // a sender that held the lease may have finished meanwhile
	if err != nil || !ok {
		return err
	}
	err = s.send(ctx, j.Report, &d)
	now := s.now().UTC()
	d.Tries++
	wctx := context.WithoutCancel(ctx) // record what happened even when the try ran out of time
	if err == nil {
		d.State, d.At, d.ErrorKey, d.Error = store.DeliverySent, now, "", ""
		if err := s.st.UpdateDelivery(wctx, j.Report, d); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		if d.ExternalID != "" {
			return s.st.TrackRequest(wctx, d.Body, d.ExternalID, j.Report)
		}
		if d.Token != "" {
			return s.st.TrackToken(wctx, d.Body, d.Token, j.Report)
		}
		return nil
	}
	var f *failure
	if !errors.As(err, &f) {
		f = &failure{key: "bodies.error.internal", detail: err.Error()}
	}
	d.ErrorKey, d.Error = f.key, f.detail
	d.State = store.DeliveryRetrying
	if f.permanent || now.Sub(d.Queued) >= s.cfg.RetryFor {
		d.State = store.DeliveryFailed
		s.log.Warn("routing: a send failed for good; moderators can retry it", "report", j.Report, "body", j.Body, "tries", d.Tries, "err", err)
	}
	if e := s.st.UpdateDelivery(wctx, j.Report, d); e != nil && !errors.Is(e, store.ErrConflict) {
		return e
	}
	if d.State == store.DeliveryFailed {
		return nil // done with this job: the record says why
	}
	return err // the runner tries again after a growing pause
}

// send delivers report rid by the body's method and fills in what came back.
func (s *Service) send(ctx context.Context, rid string, d *store.Delivery) error {
	r, err := s.st.Report(ctx, rid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.life.PublicNow(r.Status)) {
		return &failure{key: "bodies.error.report_gone", permanent: true}
	}
	if err != nil {
		return err
	}
	b, err := s.st.Body(ctx, d.Body)
	if errors.Is(err, store.ErrNotFound) {
		return &failure{key: "bodies.error.deleted", permanent: true}
	}
	if err != nil {
		return err
	}
	d.BodyName, d.Via = b.Name, b.Method
	switch b.Method {
	case store.ByEmail:
		return s.sendEmail(ctx, r, b, d)
	case store.ByOpen311:
		return s.sendOpen311(ctx, r, b, d)
	}
	return &failure{key: "bodies.error.internal", detail: "unknown method " + b.Method, permanent: true}
}

func (s *Service) reportLink(r *store.Report) string { return s.cfg.BaseURL + "/reports/" + r.ID }

func (s *Service) photoLinks(r *store.Report) []string {
	var out []string
	for _, p := range r.Photos {
		out = append(out, s.cfg.BaseURL+"/photos/"+p+".jpg")
	}
	return out
}

// sendEmail queues the mail in the body's language; the mail queue sends it (at least once per
// key, retried for a day).
func (s *Service) sendEmail(ctx context.Context, r *store.Report, b *store.Body, d *store.Delivery) error {
	loc := i18n.For(b.Lang)
	lat, lng := fmt.Sprintf("%.6f", r.Lat), fmt.Sprintf("%.6f", r.Lng)
	address := r.Address
	if address == "" {
		address = lat + ", " + lng
	}
	data := mail.BodyData{
		BodyName: b.Name, Type: loc.T("bodies.types." + r.Type), Severity: loc.T("bodies.severity." + r.Severity),
		Address: address, Description: r.Description, Lat: lat, Lng: lng,
		MapLink: "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lng + "#map=18/" + lat + "/" + lng,
		Link:    s.reportLink(r), Reference: r.ID, Photos: s.photoLinks(r), ReplyTo: s.cfg.ReplyTo,
	}
	if r.Contact != nil { // only with the reporter's agreement
		data.ContactName, data.ContactEmail = r.Contact.Name(), r.Contact.Email
	}
	headers := map[string]string{"X-Hazard-Watch-Report": r.ID}
	if s.cfg.ReplyTo != "" {
		headers["Reply-To"] = s.cfg.ReplyTo
	}
	key := "body:" + r.ID + ":" + b.ID + ":" + d.Reason
	if err := worker.EnqueueWith(i18n.With(ctx, loc), s.st, key, b.Email, mail.Body, data, headers); err != nil {
		return &failure{key: "bodies.error.mail", detail: err.Error()}
	}
	return nil
}

// sendOpen311 posts the request and keeps the id (or token) the server gives.
func (s *Service) sendOpen311(ctx context.Context, r *store.Report, b *store.Body, d *store.Delivery) error {
	if b.Open311 == nil {
		return &failure{key: "bodies.error.internal", detail: "no Open311 settings", permanent: true}
	}
	code := b.Open311.ServiceCodes[r.Type]
	if code == "" {
		return &failure{key: "bodies.error.no_service_code", permanent: true}
	}
	desc := r.Description
	if t, ok := hazard.TypeByCode(r.Type); ok && desc == "" {
		desc = t.Label(i18n.With(ctx, i18n.For(b.Lang)))
	}
	// Our reference in the text: GeoReport has no idempotency key, so a repeat after a crash is
	// recognisable by people.
	desc = strings.TrimSpace(desc + "\n\n" + s.reportLink(r))
	req := georeport.Request{ServiceCode: code, Lat: r.Lat, Long: r.Lng, AddressString: r.Address, Description: desc}
	if r.Contact != nil { // only with the reporter's agreement
		req.Email, req.FirstName, req.LastName = r.Contact.Email, r.Contact.FirstName, r.Contact.LastName
	}
	if ph := s.photoLinks(r); len(ph) > 0 {
		req.MediaURL = ph[0]
	} else if r.MediaURL != "" {
		req.MediaURL = r.MediaURL
	}
	created, err := s.client(b).Post(ctx, req)
	if err != nil {
		key := "bodies.error.open311_refused"
		if georeport.Temporary(err) {
			key = "bodies.error.open311_unreachable"
		}
		return &failure{key: key, detail: err.Error(), permanent: !georeport.Temporary(err)}
	}
	d.ExternalID, d.Token = created.ID, created.Token
	if d.ExternalID != "" {
		d.Token = ""
	}
	return nil
}

func (s *Service) client(b *store.Body) *georeport.Client {
	return &georeport.Client{HTTP: s.cfg.HTTP, Endpoint: b.Open311.Endpoint, APIKey: b.Open311.APIKey,
		Jurisdiction: b.Open311.Jurisdiction, UserAgent: s.cfg.UserAgent}
}
