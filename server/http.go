package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
)

// How a route authenticates.
const (
	authNone   = iota // public: health, metrics, the OpenAPI document
	authSigned        // a signed request by an admin or passport of an enrolled org
	authEnroll        // POST /v1/orgs: signed by the admin key being enrolled
	authLedger        // ledger-store routes of a ledger node: signed by an org admin, no org client
)

// route is one REST route. The route table is the single source the
// handler and the OpenAPI test read.
type route struct {
	method, pattern string
	auth            int
	handle          func(ctx context.Context, rq *request) (int, any, error)
	// raw, when set, serves the route directly (metrics, the OpenAPI document).
	raw http.Handler
	// maxBody overrides wire.MaxBody for this route when positive.
	maxBody int64
}

// request is what a handler gets: the HTTP request, its verified body and
// principal, and the principal's org client.
type request struct {
	r      *http.Request
	body   []byte
	p      *principal
	c      *human.Client
	server *Server
}

// Routes lists "METHOD PATTERN" for every route, for documentation tests.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.method+" "+rt.pattern)
	}
	return out
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		if rt.raw != nil {
			mux.Handle(rt.method+" "+rt.pattern, rt.raw)
			continue
		}
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	if s.node == nil { // a ledger node serves no web app
		mux.Handle("/app/", s.appHandler()) // the approver's inbox (app.go)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w}
		rid := headerID(r, "X-Request-Id")
		rw.Header().Set("X-Request-Id", rid)
		ctx := context.WithValue(r.Context(), ridKey{}, rid)
		r = r.WithContext(ctx)
		info := &reqInfo{route: "unmatched"}
		var span trace.Span
		if s.cfg.TracerProvider != nil { // otel.go
			ctx, span = s.startSpan(ctx, r)
			r = r.WithContext(ctx)
		}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			if span != nil {
				defer func() { endSpan(span, r.Method, info, rw.status) }()
			}
			if v := recover(); v != nil {
				s.log.Error("panic in handler", "request_id", rid, "panic", v)
				if !rw.wrote {
					writeProblem(rw, r, wire.NewProblem(wire.CodeInternal, "internal error"))
				}
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(info.route, r.Method, strconv.Itoa(rw.status)).Inc()
			s.metrics.duration.WithLabelValues(info.route).Observe(d.Seconds())
			lvl := slog.LevelInfo
			if rw.status >= 500 {
				lvl = slog.LevelError
			}
			s.log.LogAttrs(ctx, lvl, "request", slog.String("request_id", rid), slog.String("run_id", headerIDOpt(r, "X-Run-Id")),
				slog.String("method", r.Method), slog.String("route", info.route), slog.Int("status", rw.status),
				slog.String("code", info.code), slog.String("principal", info.principal), slog.Duration("duration", d))
		}()
		_, pattern := mux.Handler(r)
		if pattern == "" {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
				probe := r.Clone(ctx)
				probe.Method = m
				if _, p := mux.Handler(probe); p != "" {
					rw.Header().Set("Allow", m)
					s.fail(rw, r, coded(wire.CodeMethodNotAllowed, errs.ErrInvalidArgument, "%s is not allowed on %s", r.Method, r.URL.Path))
					return
				}
			}
			s.fail(rw, r, coded(wire.CodeUnknownRoute, errs.ErrNotFound, "no route %s %s", r.Method, r.URL.Path))
			return
		}
		info.route = pattern
		mux.ServeHTTP(rw, r) // sets the path values, which mux.Handler does not
	})
}

type ridKey struct{}
type infoKey struct{}

type reqInfo struct{ route, code, principal string }

func headerIDOpt(r *http.Request, name string) string {
	v := r.Header.Get(name)
	if len(v) == 0 || len(v) > 64 {
		return ""
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return v
}

func headerID(r *http.Request, name string) string {
	if v := headerIDOpt(r, name); v != "" {
		return v
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		info, _ := ctx.Value(infoKey{}).(*reqInfo)
		limit := int64(wire.MaxBody)
		if rt.maxBody > 0 {
			limit = rt.maxBody
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.fail(w, r, coded(wire.CodeBodyTooLarge, errs.ErrInvalidArgument, "body over the limit of %d bytes", limit))
			} else {
				s.fail(w, r, coded(wire.CodeMalformedJSON, errs.ErrInvalidArgument, "reading body: %v", err))
			}
			return
		}
		rq := &request{r: r, body: body, server: s}
		if rt.auth != authNone {
			if rq.p, err = s.authenticate(ctx, r, body, rt.auth == authEnroll); err != nil {
				s.fail(w, r, err)
				return
			}
			if info != nil {
				info.principal = rq.p.keyID
			}
			release, err := s.limits.acquire(rq.p.keyID, s.now())
			if err != nil {
				w.Header().Set("Retry-After", "1")
				s.fail(w, r, err)
				return
			}
			defer release()
			if rt.auth == authSigned {
				if rq.c, err = s.client(ctx, rq.p.org); err != nil {
					s.fail(w, r, err)
					return
				}
			}
		}
		status, out, err := rt.handle(ctx, rq)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if out == nil {
			w.WriteHeader(status)
			return
		}
		data, err := json.Marshal(out)
		if err != nil {
			s.fail(w, r, errs.Errorf(errs.ErrUnavailable, "encoding response: %v", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(data)
	})
}

// fail writes err as problem+json, with the specific code of a problemErr
// or the generic code of the sentinel it wraps.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *problemErr
	p := wire.ProblemFromError(err)
	if errors.As(err, &pe) {
		p = wire.NewProblem(pe.code, err.Error())
	}
	if p.Status >= 500 && p.Code != wire.CodeUnavailable {
		s.log.Error("internal error", "request_id", r.Context().Value(ridKey{}), "err", err)
		p.Detail = "internal error"
	}
	if info, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		info.code = p.Code
	}
	writeProblem(w, r, p)
}

func writeProblem(w http.ResponseWriter, r *http.Request, p *wire.Problem) {
	p.Instance, _ = r.Context().Value(ridKey{}).(string)
	data, _ := json.Marshal(p)
	w.Header().Set("Content-Type", wire.ProblemType)
	w.WriteHeader(p.Status)
	_, _ = w.Write(data)
}

// decode reads body as exactly one JSON value of v's type. Unknown fields
// are CodeUnknownField, anything else malformed CodeMalformedJSON.
func decode(body []byte, v any) error {
	strict := json.NewDecoder(bytes.NewReader(body))
	strict.DisallowUnknownFields()
	err := strict.Decode(v)
	if err == nil {
		if strict.More() || trailing(strict) {
			return coded(wire.CodeMalformedJSON, errs.ErrInvalidArgument, "body holds more than one JSON value")
		}
		return nil
	}
	// Tell an unknown field from other errors without reading messages:
	// a lenient decode succeeds only in the first case.
	lenient := json.NewDecoder(bytes.NewReader(body))
	if lenient.Decode(new(map[string]any)) == nil {
		probe := json.NewDecoder(bytes.NewReader(body))
		if probe.Decode(v) == nil {
			return coded(wire.CodeUnknownField, errs.ErrInvalidArgument, "body: %v", err)
		}
	}
	return coded(wire.CodeMalformedJSON, errs.ErrInvalidArgument, "body: %v", err)
}

func trailing(d *json.Decoder) bool {
	_, err := d.Token()
	return err != io.EOF
}

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	calls    *prometheus.CounterVec
	handler  http.Handler
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "human_http_requests_total", Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "human_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 30}}, []string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "human_http_in_flight", Help: "HTTP requests in flight."}),
		calls:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "human_calls_total", Help: "Governed calls by outcome status."}, []string{"status"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight, m.calls)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}
