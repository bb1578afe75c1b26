package bff

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Problem is an error the client sees as an RFC 9457 problem document. What
// it carries in Err is the cause, for the log only; the client sees Code,
// Title and Detail.
type Problem struct {
	Status int
	// Code is the stable, machine-readable reason ("malformed_request",
	// "code_used", ...). Clients branch on it; never rename one.
	Code string
	// Title is the short summary fixed for the code.
	Title string
	// Detail explains this occurrence in English; it must never carry a
	// secret. With Msg set it is Msg in English.
	Detail string
	// Msg is the detail as a catalogue message, rendered in the client's
	// language (Accept-Language). Without it, a client that asks for
	// another language gets the generic text of the code when the
	// catalogue has one, and Detail otherwise.
	Msg *text.Message
	// Param names the request member that is wrong when the handler knows
	// it (Stripe's "param"): a body member ("amount"), a query parameter
	// ("limit") or a header ("Idempotency-Key"). Empty when the problem is
	// not about one member.
	Param string
	// Headers are added to the response (WWW-Authenticate, Retry-After).
	Headers map[string]string
	// Extra are RFC 9457 extension members, serialised at the top level of
	// the document (such as "enrollment_id"). They must never carry a
	// secret, and cannot replace the standard members.
	Extra map[string]any
	// Err is the cause, logged but never sent.
	Err error
}

func (p *Problem) Error() string {
	if p.Err != nil {
		return fmt.Sprintf("%s (%d): %s: %v", p.Code, p.Status, p.Detail, p.Err)
	}
	return fmt.Sprintf("%s (%d): %s", p.Code, p.Status, p.Detail)
}

func (p *Problem) Unwrap() error { return p.Err }

// problemBody is the JSON the client receives.
type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
	Param     string `json:"param,omitempty"`
	// TraceID is the W3C trace id of the request (trace.go).
	TraceID string `json:"trace_id,omitempty"`
	// Extra holds the extension members (Problem.Extra).
	Extra map[string]any `json:"-"`
}

// MarshalJSON writes the standard members in their fixed order, then the
// extension members sorted by name; an extension member never replaces a
// standard one.
func (b problemBody) MarshalJSON() ([]byte, error) {
	type plain problemBody
	out, err := json.Marshal(plain(b))
	if err != nil || len(b.Extra) == 0 {
		return out, err
	}
	names := make([]string, 0, len(b.Extra))
	for k := range b.Extra {
		switch k {
		case "type", "title", "status", "detail", "code", "request_id", "param", "trace_id", "instance":
		default:
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out = out[:len(out)-1] // the closing brace
	for _, k := range names {
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(b.Extra[k])
		if err != nil {
			return nil, err
		}
		out = append(append(append(append(out, ','), name...), ':'), v...)
	}
	return append(out, '}'), nil
}

// problemTypeBase prefixes a code to make the problem's type URI. The URN is
// stable and not meant to be dereferenced; the codes are listed in the
// OpenAPI document.
const problemTypeBase = "urn:paycode:problem:"

// newProblem builds a problem with the fixed title of its code.
func newProblem(status int, code, detail string) *Problem {
	return &Problem{Status: status, Code: code, Title: titleOf(code, status), Detail: detail}
}

// problemText builds a problem whose detail is the catalogue message m.
func problemText(status int, code string, m text.Message) *Problem {
	p := newProblem(status, code, m.Render(text.En))
	p.Msg = &m
	return p
}

// about names the request member the problem is about (Param) and
// returns p.
func (p *Problem) about(param string) *Problem {
	p.Param = param
	return p
}

// detailIn is the problem's detail in language l.
func (p *Problem) detailIn(l text.Lang) string {
	switch {
	case p.Msg != nil:
		return p.Msg.Render(l)
	case l != text.En && text.Has(text.ID(p.Code)):
		return text.Render(l, text.M(text.ID(p.Code)))
	}
	return p.Detail
}

// Stable codes of the generic problems. Feature codes live with their
// handlers and are listed in the OpenAPI document.
const (
	codeMalformed        = "malformed_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeBodyTooLarge     = "body_too_large"
	codeUnsupportedType  = "unsupported_media_type"
	codeRateLimited      = "rate_limited"
	codeTooManyStreams   = "too_many_streams"
	codeInternal         = "internal"
	codeUnavailable      = "unavailable"
	codeUnconfirmed      = "unconfirmed"
	codeTimeout          = "request_timeout"
)

var titles = map[string]string{
	codeMalformed:        "The request is malformed",
	codeUnauthorized:     "Authentication is required",
	codeForbidden:        "This action is not allowed",
	codeNotFound:         "No such resource",
	codeMethodNotAllowed: "Method not allowed on this resource",
	codeBodyTooLarge:     "The request body is too large",
	codeUnsupportedType:  "Unsupported content type",
	codeRateLimited:      "Too many requests",
	codeInternal:         "Internal error",
	codeUnavailable:      "Service temporarily unavailable",
	codeUnconfirmed:      "The outcome is not confirmed",
	codeTimeout:          "The request took too long",
}

func titleOf(code string, status int) string {
	if t, ok := titles[code]; ok {
		return t
	}
	return http.StatusText(status)
}

// fiberCodes maps the errors Fiber itself returns (routing, body limits).
var fiberCodes = map[int]string{
	fiber.StatusBadRequest:            codeMalformed,
	fiber.StatusNotFound:              codeNotFound,
	fiber.StatusMethodNotAllowed:      codeMethodNotAllowed,
	fiber.StatusRequestEntityTooLarge: codeBodyTooLarge,
	fiber.StatusUnsupportedMediaType:  codeUnsupportedType,
	fiber.StatusRequestTimeout:        codeTimeout,
	fiber.StatusTooManyRequests:       codeRateLimited,
	fiber.StatusUnauthorized:          codeUnauthorized,
	fiber.StatusForbidden:             codeForbidden,
	fiber.StatusServiceUnavailable:    codeUnavailable,
}

// toProblem is the one table from errors to what the client sees.
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if code, ok := fiberCodes[fe.Code]; ok {
			// Fiber's messages can echo the raw path ("Cannot GET /..."),
			// which may carry anything: neither sent nor logged.
			return &Problem{Status: fe.Code, Code: code, Title: titleOf(code, fe.Code)}
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return &Problem{Status: fe.Code, Code: codeMalformed, Title: titleOf(codeMalformed, fe.Code)}
		}
	}
	if errors.Is(err, store.ErrUnconfirmed) {
		// Sent but not confirmed: the one 503 that must not say "nothing
		// was changed".
		p := problemText(fiber.StatusServiceUnavailable, codeUnconfirmed, text.M(text.Unconfirmed))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "1"}
		p.Err = err
		return p
	}
	if errors.Is(err, store.ErrUnavailable) {
		p := problemText(fiber.StatusServiceUnavailable, codeUnavailable, text.M(text.Unavailable))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "1"}
		p.Err = err
		return p
	}
	p = problemText(fiber.StatusInternalServerError, codeInternal, text.M(text.Internal))
	p.Err = err
	return p
}

// handleError writes err as a problem document. It is Fiber's ErrorHandler,
// and the access-log middleware calls it for errors from the handler chain.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := toProblem(err)
	rid := requestID(c)
	if rid == "" {
		// Errors raised before any middleware ran (a body over the limit,
		// a malformed request line) still get an id and a log line.
		rid = s.assignRequestID(c)
		defer s.logRequest(c, routeUnmatched, 0, p, nil)
	}
	c.Locals(localProblem, p)
	for k, v := range p.Headers {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	lang := text.Negotiate(c.Get(fiber.HeaderAcceptLanguage))
	c.Set(fiber.HeaderContentLanguage, string(lang))
	c.Status(p.Status)
	return c.JSON(problemBody{
		Type:      problemTypeBase + p.Code,
		Title:     p.Title,
		Status:    p.Status,
		Detail:    p.detailIn(lang),
		Code:      p.Code,
		RequestID: rid,
		Param:     p.Param,
		TraceID:   traceID(c),
		Extra:     p.Extra,
	}, "application/problem+json")
}

// logAttrs are what the access log says of a problem: the code always, the
// cause for server errors (4xx causes are the client's and stay at info).
func (p *Problem) logAttrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("problem", p.Code)}
	if p.Err != nil {
		attrs = append(attrs, slog.String("error", p.Err.Error()))
	}
	return attrs
}
