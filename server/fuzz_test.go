package server_test

import (
	"testing"
)

// FuzzSignedBodies: any body, correctly signed by an org admin, sent to
// any POST route is answered without a 5xx and, if refused, with a 4xx
// problem+json.
func FuzzSignedBodies(f *testing.F) {
	for _, seed := range []string{`{}`, `null`, `[]`, `{"envelope":{}}`, `{"envelope":{"payloadType":"x","payload":"AA==","signatures":[]}}`,
		`{"agent":"a","delegation":"d","action":"x","attributes":{"a":[1,{"b":null}]}}`, `{"entry":""}`, `{"vote":{}}`, `{"org":"x"}`, "\x00"} {
		for i := range postRoutes {
			f.Add(i, []byte(seed))
		}
	}
	e := newEnv(f) // one server for the whole run
	f.Fuzz(func(t *testing.T, route int, body []byte) {
		if route < 0 {
			route = -route
		}
		path := postRoutes[route%len(postRoutes)]
		if path == "/v1/workforce/tasks/{id}/decisions" {
			path = "/v1/workforce/tasks/" + e.a.task.ID + "/decisions"
		}
		resp, data := send(t, e.base, "POST", path, body, &e.a.admin)
		if resp.StatusCode >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, resp.StatusCode, data)
		}
		if resp.StatusCode >= 400 {
			problem(t, path, resp, data)
		}
	})
}

var postRoutes = []string{"/v1/orgs", "/v1/sessions", "/v1/passport", "/v1/passport/delegations", "/v1/passport/revocations",
	"/v1/capabilities/grants", "/v1/capabilities/members", "/v1/humanos/policies", "/v1/humanos/policies/activations",
	"/v1/humanos/decisions", "/v1/workforce/tasks/{id}/decisions", "/v1/attestations"}
