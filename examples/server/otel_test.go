package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestServeTracing: no exporter unless OTEL_EXPORTER_OTLP_* names one;
// with one, spans reach the collector (a loopback OTLP/HTTP endpoint) by
// shutdown at the latest.
func TestServeTracing(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, stop, err := serveTracing(context.Background())
	if err != nil || tp != nil {
		t.Fatalf("unconfigured: provider %v, err %v; want none", tp, err)
	}
	stop(context.Background())

	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.URL+"/v1/traces")
	tp, stop, err = serveTracing(context.Background())
	if err != nil || tp == nil {
		t.Fatalf("configured: provider %v, err %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "GET /health")
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Fatal("no span reached the OTLP collector")
	}
}
