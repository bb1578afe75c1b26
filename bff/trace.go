package bff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/paycode/paycode/config"
)

// Tracing: every request gets a W3C trace context. A valid incoming
// traceparent header is continued (its trace id, a new span id); without
// one a new trace starts. The trace id is in the request's access-log line
// (and every other line logged with the request's context) and in its
// problem document ("trace_id"), so a client's report, a log line and a
// span in the tracing backend meet on one id.
//
// Spans (one server span per request, named "METHOD /route/pattern") are
// exported over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not
// "true"); the exporter reads the other OTEL_EXPORTER_OTLP_* variables
// (headers, timeout, TLS) itself, and OTEL_TRACES_SAMPLER,
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES apply. Without an
// endpoint, ids are still made but no span is recorded or sent.

// traceparent is the W3C Trace Context propagator (traceparent and
// tracestate headers); baggage is not read.
var traceparent = propagation.TraceContext{}

// NewTracerProvider builds the server's tracer provider from the OTEL_*
// environment read through getenv (see above). Shutdown flushes it.
func NewTracerProvider(ctx context.Context, getenv config.Getenv) (*sdktrace.TracerProvider, error) {
	// As the OTLP specification says: the traces endpoint is used as it
	// is, the general one gets /v1/traces appended.
	endpoint, _ := getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint != "" {
		endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
	}
	if v, _ := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		endpoint = v
	}
	if v, _ := getenv("OTEL_SDK_DISABLED"); v == "true" || endpoint == "" {
		// Ids only: every span is dropped unrecorded.
		return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample())), nil
	}
	if v, _ := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); v != "" && v != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported, not %q", v)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "paycode")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// headerCarrier reads a request's headers for the propagator.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string { return h.c.Get(key) }
func (h headerCarrier) Set(string, string)    {}
func (h headerCarrier) Keys() []string        { return nil }

// startSpan continues the request's incoming trace context (or starts a
// trace) and makes the span the request's context.
func (s *Server) startSpan(c *fiber.Ctx) trace.Span {
	ctx := traceparent.Extract(c.UserContext(), headerCarrier{c})
	ctx, span := s.tracer.Start(ctx, c.Method(), trace.WithSpanKind(trace.SpanKindServer))
	c.SetUserContext(ctx)
	return span
}

// endSpan names the span after the route pattern and ends it.
func endSpan(span trace.Span, listener, route, method string, status int, p *Problem, ids []slog.Attr) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetName(method + " " + route)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status),
		attribute.String("paycode.listener", listener),
	}
	for _, a := range ids {
		attrs = append(attrs, attribute.String("paycode."+a.Key, a.Value.String()))
	}
	span.SetAttributes(attrs...)
	if p != nil {
		span.SetAttributes(attribute.String("paycode.problem", p.Code))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	span.End()
}

// traceID is the request's trace id (32 hex digits), "" when it has none.
func traceID(c *fiber.Ctx) string {
	sc := trace.SpanContextFromContext(c.UserContext())
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// traceLogHandler adds trace_id and span_id to every line logged with a
// context that carries a span (the request's, for lines logged while a
// request is served).
type traceLogHandler struct{ slog.Handler }

// withTraceIDs wraps h; it does not wrap twice.
func withTraceIDs(h slog.Handler) slog.Handler {
	if _, ok := h.(traceLogHandler); ok {
		return h
	}
	return traceLogHandler{h}
}

func (h traceLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceLogHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceLogHandler) WithGroup(name string) slog.Handler {
	return traceLogHandler{h.Handler.WithGroup(name)}
}
