package handlers

import (
	"strings"
	"testing"

	"hazardwatch/store"
)

// /admin/system shows Redis's own diagnosis: LATENCY DOCTOR and MEMORY DOCTOR, as Redis words them.
func TestSystemPageDoctors(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	resp, body := admin.get("/admin/system")
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	d := doc(t, body)
	// Every answer of the two doctors addresses Dave and Sam, whatever it finds.
	if got := d.Find(`[data-testid="latency-doctor"]`).Text(); !strings.Contains(got, "Dave") {
		t.Errorf("latency doctor: %q", got)
	}
	if got := d.Find(`[data-testid="memory-doctor"]`).Text(); !strings.Contains(got, "Sam") {
		t.Errorf("memory doctor: %q", got)
	}
}
