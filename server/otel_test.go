package server_test

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/humanos/human/server"
)

// TestTracing: with a TracerProvider each request is one server span named
// by its route, a child of the caller's traceparent, carrying status and
// problem code and no header values.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, base := newServer(t, server.Config{TracerProvider: tp})
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, c := range []struct{ method, path string }{{"GET", "/health"}, {"GET", "/v1/attestations/checkpoint"}} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		req.Header.Set("Traceparent", parent)
		req.Header.Set("Signature", "sig1=:c2VjcmV0:")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	want := []struct {
		name, code string
		status     int64
	}{{"GET /health", "", 200}, {"GET /v1/attestations/checkpoint", "bad_signature", 401}}
	for i, sp := range spans {
		if sp.Name() != want[i].name || sp.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("span %d: %q parent %s", i, sp.Name(), sp.Parent().TraceID())
		}
		attrs := map[attribute.Key]attribute.Value{}
		for _, a := range sp.Attributes() {
			attrs[a.Key] = a.Value
			if a.Value.AsString() == "sig1=:c2VjcmV0:" {
				t.Errorf("span %d records a header value in %s", i, a.Key)
			}
		}
		if got := attrs["http.response.status_code"].AsInt64(); got != want[i].status {
			t.Errorf("span %d status %d, want %d", i, got, want[i].status)
		}
		if got := attrs["human.problem_code"].AsString(); got != want[i].code {
			t.Errorf("span %d code %q, want %q", i, got, want[i].code)
		}
	}
}
