package app

import (
	"context"
	"io"
	"testing"
	"time"

	"hazardwatch/area"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// Two Hazard Watch instances, each with its own Redis: the "city" runs its own Hazard Watch and
// takes reports through /open311/v2; the other sends it a report through the Open311 client and
// brings the city's resolution back onto its own report by polling. The reporter agreed to be
// contacted: the city's copy knows who to ask.
func TestOpen311BetweenTwoInstances(t *testing.T) {
	ctx := context.Background()
	city, cityURL := newApp(t, redistest.Start(t).URL(), io.Discard)
	us, _ := newApp(t, redistest.Start(t).URL(), io.Discard)
	key, _, err := city.Store.CreateAPIKey(ctx, "the other instance", 100)
	if err != nil {
		t.Fatal(err)
	}
	a, err := area.Parse([]byte(`{"type":"Polygon","coordinates":[[[34.9,32.7],[35.1,32.7],[35.1,32.9],[34.9,32.9],[34.9,32.7]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	b := &store.Body{ID: store.NewBodyID(), Name: "City of Haifa", Lang: "en", Types: []string{"pothole"}, Method: store.ByOpen311,
		Open311: &store.Open311{Endpoint: cityURL + "/open311/v2", APIKey: key, ServiceCodes: map[string]string{"pothole": "pothole"}},
		BBox:    a.BBox(), Vertices: a.Vertices}
	if err := us.Store.SaveBody(ctx, b, a.GeoJSON()); err != nil {
		t.Fatal(err)
	}
	r, _, err := us.Life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: "citizen000000001", Type: "pothole", Severity: "high",
		Description: "Deep hole at the roundabout", Lat: 32.8, Lng: 35.0, HasPlace: true,
		Contact: lifecycle.SharedContact("Noa Bar Lev", "noa@example.org")})
	if err != nil {
		t.Fatal(err)
	}
	var d store.Delivery
	if !eventually(t, 30*time.Second, func() bool {
		d, err = us.Store.Delivery(ctx, r.ID, b.ID)
		return err == nil && d.State == store.DeliverySent
	}) {
		t.Fatalf("not delivered: %+v %v", d, err)
	}
	theirs, err := city.Store.Report(ctx, d.ExternalID)
	if err != nil || theirs.Type != "pothole" || theirs.Lat != 32.8 || theirs.Source != "open311:the other instance" {
		t.Fatalf("the city's copy: %+v %v", theirs, err)
	}
	if theirs.Contact == nil || *theirs.Contact != (store.Contact{FirstName: "Noa", LastName: "Bar Lev", Email: "noa@example.org"}) {
		t.Fatalf("the city's copy lost the reporter's agreed contact: %+v", theirs.Contact)
	}
	// The city's moderator resolves it there.
	cityMod := lifecycle.Actor{ID: "mod0000000000001", Role: store.RoleModerator}
	if _, err := city.Life.Transition(ctx, cityMod, theirs.ID, 0, hazard.Resolve, "Patched by the night crew", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := us.Routing.PollBody(ctx, b); err != nil {
		t.Fatal(err)
	}
	ours, _ := us.Store.Report(ctx, r.ID)
	last := ours.History[len(ours.History)-1]
	if ours.Status != hazard.Resolved || last.Note != "Patched by the night crew" || lifecycle.BodyOf(last.By) != b.ID {
		t.Fatalf("our report after the poll: %s %+v", ours.Status, last)
	}
}
