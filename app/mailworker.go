package app

import (
	"context"
	"errors"
	"time"

	"hazardwatch/mail"
	"hazardwatch/store"
)

// mailLoop sends queued status mails. Every instance runs one; the consumer group shares the
// work, and a mail whose send failed stays pending and is claimed again after a minute.
func (a *App) mailLoop(ctx context.Context, sender mail.Sender, consumer string) {
	if err := a.Store.EnsureMailGroup(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("mail queue not ready; retrying", "err", err)
	}
	for ctx.Err() == nil {
		n, err := SendQueuedMail(ctx, a.Store, sender, consumer, 2*time.Second)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("mail queue", "err", err)
			_ = a.Store.EnsureMailGroup(ctx) // the stream may have been lost with a Redis restart
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		} else if n > 0 {
			a.log.Info("status mails sent", "count", n)
		}
	}
}

// SendQueuedMail handles one batch for consumer and returns how many mails went out. A message
// older than a day is dropped with a log line rather than retried forever.
func SendQueuedMail(ctx context.Context, st *store.Store, sender mail.Sender, consumer string, block time.Duration) (int, error) {
	msgs, err := st.NextMails(ctx, consumer, block)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, m := range msgs {
		if time.Since(m.Queued) > 24*time.Hour {
			_ = st.AckMail(ctx, m.ID)
			continue
		}
		fresh, err := st.MarkMailSending(ctx, m.Key)
		if err != nil {
			return sent, err
		}
		if !fresh {
			_ = st.AckMail(ctx, m.ID) // already sent for this change
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = sender.Send(sctx, mail.Message{To: m.To, Subject: m.Subject, Text: m.Text, Link: m.Link})
		cancel()
		if err != nil {
			_ = st.UnmarkMail(ctx, m.Key) // left pending: claimed again after a minute
			return sent, errors.Join(errors.New("sending a status mail failed"), err)
		}
		if err := st.AckMail(ctx, m.ID); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}
