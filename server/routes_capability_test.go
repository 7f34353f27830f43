package server_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/internal/wire"
)

// TestCapabilityRoutes: claims, evidence and holds as their own
// principals use them, and the refusals that are not a matter of role.
func TestCapabilityRoutes(t *testing.T) {
	e := newEnv(t)
	a := e.a
	skill, err := capability.SignClaim(a.aliceKey, capability.Claim{ID: "own-skill", Org: a.org, Kind: capability.ClaimSkill,
		Issuer: a.alice.DID, Subject: a.alice.DID, Object: "skill.sepa", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	body := mustJSON(t, wire.PassportBody{Envelope: skill})
	resp, data := send(t, e.base, "POST", "/v1/capabilities/claims", body, &a.aliceP)
	var res wire.ClaimResult
	if resp.StatusCode != 201 || json.Unmarshal(data, &res) != nil || res.Claim.ID != "own-skill" {
		t.Fatalf("alice relays her own claim: %d %s", resp.StatusCode, data)
	}
	if err := human.VerifyReceipt(res.Receipt, a.c.LedgerKey()); err != nil {
		t.Fatal(err)
	}
	resp, data = send(t, e.base, "POST", "/v1/capabilities/claims", body, &a.aliceP)
	if code := problem(t, "replayed claim", resp, data); code != wire.CodeConflict {
		t.Errorf("replayed claim: %s", code)
	}
	q := func(subject, capName string) string {
		return "?" + url.Values{"subject": {subject}, "capability": {capName}}.Encode()
	}
	var h wire.Holding
	resp, data = send(t, e.base, "GET", "/v1/capabilities/holds"+q(a.alice.DID, "skill.sepa"), nil, &a.aliceP)
	if resp.StatusCode != 200 || json.Unmarshal(data, &h) != nil || !h.Held || len(h.Path) != 1 {
		t.Fatalf("alice holds her skill: %d %s", resp.StatusCode, data)
	}
	var ev wire.Evidence
	resp, data = send(t, e.base, "GET", "/v1/capabilities/evidence"+q(a.bob.DID, "finance.approver"), nil, &a.bobP)
	if resp.StatusCode != 200 || json.Unmarshal(data, &ev) != nil || ev.Evidence == nil || len(ev.Evidence) != 0 {
		t.Fatalf("bob's evidence: %d %s", resp.StatusCode, data)
	}
	// Org B's admin asking about org A's bob sees org B's graph only.
	resp, data = send(t, e.base, "GET", "/v1/capabilities/holds"+q(a.bob.DID, "finance.approver"), nil, &e.b.admin)
	if resp.StatusCode != 200 || json.Unmarshal(data, &h) != nil || h.Held {
		t.Fatalf("org B sees org A's holding: %d %s", resp.StatusCode, data)
	}
	for _, path := range []string{"/v1/capabilities/holds", "/v1/capabilities/holds?subject=x", "/v1/capabilities/evidence?capability=y"} {
		resp, data = send(t, e.base, "GET", path, nil, &a.admin)
		if code := problem(t, path, resp, data); code != wire.CodeInvalidArgument {
			t.Errorf("%s: %s", path, code)
		}
	}
}
