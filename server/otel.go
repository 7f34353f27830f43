package server

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the server's spans.
const tracerName = "github.com/humanos/human/server"

// traceProp reads a caller's W3C traceparent/tracestate.
var traceProp = propagation.TraceContext{}

// startSpan starts the request's server span, a child of the caller's
// trace context when the request carries one. Only the method and path
// are known here; endSpan names it by the matched route.
func (s *Server) startSpan(ctx context.Context, r *http.Request) (context.Context, trace.Span) {
	ctx = traceProp.Extract(ctx, propagation.HeaderCarrier(r.Header))
	return s.cfg.TracerProvider.Tracer(tracerName).Start(ctx, r.Method,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
}

// endSpan records the route, status and problem code (never headers,
// bodies or key material) and ends the span. 5xx is an error.
func endSpan(span trace.Span, method string, info *reqInfo, status int) {
	route := info.route
	if len(route) > len(method)+1 && route[:len(method)+1] == method+" " {
		route = route[len(method)+1:] // mux patterns are "METHOD /path"
	}
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
	if info.code != "" {
		span.SetAttributes(attribute.String("human.problem_code", info.code))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, info.code)
	}
	span.End()
}
