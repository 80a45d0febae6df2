package i18n

import "context"

// Msg is something to tell people, said later in the reader's language: a catalog id and its
// data. Packages that judge input without knowing who reads the verdict (lifecycle, store,
// password, geocode) return one; the page, mail or JSON error that shows it localizes it.
type Msg struct {
	ID   string
	Data map[string]any // values may be Msgs themselves (a status named inside a sentence)
}

// M is a Msg with data given as pairs: M("errors.search_long", "Max", 100).
func M(id string, pairs ...any) Msg {
	m := Msg{ID: id}
	if len(pairs) > 1 {
		m.Data = make(map[string]any, len(pairs)/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			k, _ := pairs[i].(string)
			m.Data[k] = pairs[i+1]
		}
	}
	return m
}

// IsZero reports whether m says nothing (the check that made it found no problem).
func (m Msg) IsZero() bool { return m.ID == "" }

// String is the message in English, for logs and errors read by developers.
func (m Msg) String() string { return localizers[Languages[0].Tag].Msg(m) }

// Msg says m in l's language ("" for the zero Msg).
func (l *Localizer) Msg(m Msg) string {
	if m.ID == "" {
		return ""
	}
	if m.Data == nil {
		return l.T(m.ID)
	}
	if n, ok := m.Data["Count"].(int); ok {
		return l.N(m.ID, n, l.withCount(m.Data, n))
	}
	return l.T(m.ID, m.Data)
}

func (l *Localizer) withCount(data map[string]any, n int) map[string]any {
	out := make(map[string]any, len(data))
	for k, v := range data {
		out[k] = v
	}
	out["Count"] = l.Int(n)
	return out
}

// Say is From(ctx).Msg(m).
func Say(ctx context.Context, m Msg) string { return From(ctx).Msg(m) }
