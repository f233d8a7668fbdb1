// Package gateway is Outflow's inbound door: partners' callbacks resume
// waiting flows (engine.CallbackURL), and webhook triggers start flows. It
// is stateless: any number of replicas behind a load balancer, each a
// Temporal client; what it knows comes from the plans and the shared
// callback key it is given. Every request is authenticated before it
// reaches Temporal; failures are counted and logged without secret values.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outflow-dev/outflow/engine"
)

// DefaultMaxBody bounds a webhook request's body.
const DefaultMaxBody = 1 << 20

// Options configure a Gateway.
type Options struct {
	Client *engine.Client
	// Key is the callback key the workers sign callback URLs with; without
	// it every callback is refused.
	Key []byte
	// Plans are the flows whose webhook triggers the gateway serves.
	Plans []*engine.Plan
	// Secrets resolves the references of auth blocks.
	Secrets Secrets
	// Dir is the project folder client_ca paths are relative to.
	Dir string
	// CallbackAuth, when set, is checked on callbacks besides their token.
	CallbackAuth *engine.InboundAuth
	// MaxBody bounds webhook bodies (DefaultMaxBody); callbacks are bounded
	// by engine.MaxEventBody.
	MaxBody int64
	// Logger logs one JSON line per request; nil: none.
	Logger *slog.Logger
	// Registry receives the gateway's metrics; nil: a registry of its own,
	// served at /metrics.
	Registry *prometheus.Registry
	// Now is the clock for HMAC timestamps; nil: time.Now.
	Now func() time.Time
}

// Gateway is an http.Handler; safe for concurrent use.
type Gateway struct {
	o        Options
	hooks    map[string]*hook
	cbAuth   *authenticator
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	refused  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

type hook struct {
	plan *engine.Plan
	w    *engine.Webhook
	auth *authenticator
}

// New builds a gateway; it fails on a webhook it cannot serve (two flows
// on one path, a client CA that cannot be read).
func New(o Options) (*Gateway, error) {
	if o.Client == nil {
		return nil, errors.New("gateway: no Temporal client")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{o: o, hooks: map[string]*hook{}, mux: http.NewServeMux()}
	for _, p := range o.Plans {
		for i, t := range p.Triggers {
			w := t.Webhook
			if w == nil {
				continue
			}
			if err := engine.CheckWebhookPath(w.Path); err != nil {
				return nil, fmt.Errorf("gateway: flow %q, triggers[%d]: %w", p.Name, i, err)
			}
			if h, ok := g.hooks[w.Path]; ok {
				return nil, fmt.Errorf("gateway: flows %q and %q both take webhooks at %s", h.plan.Name, p.Name, w.Path)
			}
			au, err := newAuthenticator(w.Auth, o.Secrets, o.Dir)
			if err != nil {
				return nil, fmt.Errorf("gateway: flow %q, triggers[%d].webhook.auth: %w", p.Name, i, err)
			}
			au.now = o.Now
			g.hooks[w.Path] = &hook{plan: p, w: w, auth: au}
		}
	}
	au, err := newAuthenticator(o.CallbackAuth, o.Secrets, o.Dir)
	if err != nil {
		return nil, fmt.Errorf("gateway: callback auth: %w", err)
	}
	au.now = o.Now
	g.cbAuth = au
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outflow_gateway_requests_total",
		Help: "Requests the gateway answered, by route (callback, webhook, other) and status code."}, []string{"route", "code"})
	g.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outflow_gateway_auth_failures_total",
		Help: "Requests refused by authentication, by route; none of them reached Temporal."}, []string{"route"})
	g.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "outflow_gateway_request_duration_seconds",
		Help: "Time to answer a request, by route.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"route"})
	for _, c := range []prometheus.Collector{g.requests, g.refused, g.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: registering metrics: %w", err)
		}
	}
	g.mux.HandleFunc("/healthz", g.healthz)
	if o.Registry == nil {
		g.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	g.mux.HandleFunc(engine.CallbackPath, g.callback)
	g.mux.HandleFunc("/", g.webhook)
	return g, nil
}

// ServeHTTP serves callbacks, webhooks, /healthz and /metrics.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// Paths lists the webhook paths served.
func (g *Gateway) Paths() []string {
	var out []string
	for p := range g.hooks {
		out = append(out, p)
	}
	return out
}

// Server returns an http.Server for the gateway with timeouts set: a
// slow client cannot hold a connection, and a respond: outputs webhook
// may wait for its flow.
func (g *Gateway) Server() *http.Server {
	longest := time.Duration(0)
	for _, h := range g.hooks {
		if d := h.timeout(); d > longest {
			longest = d
		}
	}
	return &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: longest + 30*time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}

// Serve serves on ln until ctx ends.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := g.Server()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (h *hook) timeout() time.Duration {
	if h.w.Respond != engine.RespondOutputs {
		return 0
	}
	if d := h.w.Timeout.D(); d > 0 {
		return d
	}
	return engine.DefaultWebhookTimeout.D()
}

func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := g.o.Client.Temporal.CheckHealth(ctx, nil); err != nil {
		http.Error(w, "temporal unreachable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// outcome is what one request came to, for its answer, log and metrics.
type outcome struct {
	route, reason string
	status        int
	body          any
	attrs         []any
}

func (g *Gateway) finish(w http.ResponseWriter, start time.Time, o outcome) {
	if o.body == nil {
		o.body = map[string]any{"error": http.StatusText(o.status)}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(o.status)
	_ = json.NewEncoder(w).Encode(o.body)
	g.requests.WithLabelValues(o.route, fmt.Sprint(o.status)).Inc()
	g.latency.WithLabelValues(o.route).Observe(time.Since(start).Seconds())
	if g.o.Logger != nil {
		attrs := append([]any{"route", o.route, "status", o.status, "duration_ms", time.Since(start).Milliseconds()}, o.attrs...)
		if o.reason != "" {
			attrs = append(attrs, "reason", o.reason)
		}
		lvl := slog.LevelInfo
		if o.status >= 400 {
			lvl = slog.LevelWarn
		}
		g.o.Logger.Log(context.Background(), lvl, "gateway request", attrs...)
	}
}

// refusal turns an authentication failure into its outcome: 401/403 for
// credentials, 500 when the gateway cannot check them (a secret it cannot
// resolve: the reason names the reference, never a value).
func (g *Gateway) refusal(route string, err error, attrs []any) outcome {
	g.refused.WithLabelValues(route).Inc()
	var ae *authError
	if errors.As(err, &ae) {
		return outcome{route: route, status: ae.Status, reason: ae.Reason, attrs: attrs}
	}
	return outcome{route: route, status: http.StatusInternalServerError, reason: err.Error(), attrs: attrs}
}

// readBody reads at most limit bytes; more is a 413.
func readBody(r *http.Request, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return nil, true, nil
	}
	return b, false, nil
}

func (g *Gateway) callback(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	const route = "callback"
	cb, err := engine.ParseCallbackPath(strings.TrimPrefix(r.URL.EscapedPath(), engine.CallbackPath))
	if err != nil {
		g.finish(w, start, outcome{route: route, status: http.StatusNotFound, reason: "malformed callback path"})
		return
	}
	// The token is the credential: logs name the execution, never it.
	attrs := []any{"execution", cb.WorkflowID, "event", cb.Event}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		g.finish(w, start, outcome{route: route, status: http.StatusMethodNotAllowed, attrs: attrs})
		return
	}
	if !cb.Valid(g.o.Key) {
		g.finish(w, start, g.refusal(route, forbidden("invalid callback token"), attrs))
		return
	}
	body, tooLarge, err := readBody(r, engine.MaxEventBody)
	switch {
	case err != nil:
		g.finish(w, start, outcome{route: route, status: http.StatusBadRequest, reason: "reading body: " + err.Error(), attrs: attrs})
		return
	case tooLarge:
		g.finish(w, start, outcome{route: route, status: http.StatusRequestEntityTooLarge, reason: fmt.Sprintf("body over %d bytes", engine.MaxEventBody), attrs: attrs})
		return
	}
	if err := g.cbAuth.check(r.Context(), r, body); err != nil {
		g.finish(w, start, g.refusal(route, err, attrs))
		return
	}
	ev := engine.Event{Name: cb.Event, Body: string(body), Headers: g.redact(r.Header, g.o.CallbackAuth), ReceivedAt: time.Now().UTC(), Source: "gateway"}
	err = g.o.Client.SendEvent(r.Context(), cb.WorkflowID, cb.FirstRunID, ev)
	switch {
	case errors.Is(err, engine.ErrExecutionEnded):
		g.finish(w, start, outcome{route: route, status: http.StatusGone, reason: "execution has ended", attrs: attrs,
			body: map[string]any{"error": "the execution this callback belongs to has ended"}})
	case err != nil:
		g.finish(w, start, outcome{route: route, status: http.StatusServiceUnavailable, reason: err.Error(), attrs: attrs})
	default:
		g.finish(w, start, outcome{route: route, status: http.StatusAccepted, attrs: attrs, body: map[string]any{"status": "accepted"}})
	}
}

// redact returns headers as an event or request keeps them, the signature
// header of auth redacted besides the usual credentials.
func (g *Gateway) redact(h http.Header, a *engine.InboundAuth) map[string]string {
	var also []string
	if a != nil && a.HMAC != nil {
		also = append(also, a.HMAC.Header, a.HMAC.TimestampHeader)
	}
	return engine.RedactEventHeaders(h, also...)
}

func (g *Gateway) webhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	const route = "webhook"
	h, ok := g.hooks[r.URL.Path]
	if !ok {
		g.finish(w, start, outcome{route: "other", status: http.StatusNotFound})
		return
	}
	attrs := []any{"path", h.w.Path, "flow", h.plan.Name}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		g.finish(w, start, outcome{route: route, status: http.StatusMethodNotAllowed, attrs: attrs})
		return
	}
	body, tooLarge, err := readBody(r, g.o.MaxBody)
	switch {
	case err != nil:
		g.finish(w, start, outcome{route: route, status: http.StatusBadRequest, reason: "reading body: " + err.Error(), attrs: attrs})
		return
	case tooLarge:
		g.finish(w, start, outcome{route: route, status: http.StatusRequestEntityTooLarge, reason: fmt.Sprintf("body over %d bytes", g.o.MaxBody), attrs: attrs})
		return
	}
	if err := h.auth.check(r.Context(), r, body); err != nil {
		g.finish(w, start, g.refusal(route, err, attrs))
		return
	}
	req, err := requestData(r, body, g.redact(r.Header, h.w.Auth))
	if err != nil {
		g.finish(w, start, outcome{route: route, status: http.StatusBadRequest, reason: err.Error(), attrs: attrs,
			body: map[string]any{"error": err.Error()}})
		return
	}
	env := map[string]any{"request": req}
	opts := engine.RunOptions{}
	if h.w.ID != "" {
		v, err := engine.EvalValue(h.w.ID, env)
		id := engine.Stringify(v)
		if err != nil || id == "" || len(id) > 255 {
			msg := "the request gives no id"
			if err != nil {
				msg = "evaluating id: " + err.Error()
			}
			g.finish(w, start, outcome{route: route, status: http.StatusBadRequest, reason: msg, attrs: attrs, body: map[string]any{"error": msg}})
			return
		}
		opts.WorkflowID = h.plan.Name + "-" + id
		opts.Once = true
	}
	inputs := map[string]any{}
	for _, b := range h.w.Inputs {
		v, err := engine.EvalValue(b.Value, env)
		if err != nil {
			msg := fmt.Sprintf("evaluating input %s: %v", b.Name, err)
			g.finish(w, start, outcome{route: route, status: http.StatusBadRequest, reason: msg, attrs: attrs, body: map[string]any{"error": msg}})
			return
		}
		inputs[b.Name] = v
	}
	ctx := r.Context()
	run, err := g.o.Client.Start(ctx, h.plan, inputs, opts)
	duplicate := false
	runID := ""
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &already):
		duplicate, runID = true, already.RunId
	case err != nil:
		g.finish(w, start, outcome{route: route, status: http.StatusServiceUnavailable, reason: err.Error(), attrs: attrs})
		return
	default:
		runID = run.GetRunID()
		opts.WorkflowID = run.GetID()
	}
	attrs = append(attrs, "execution", opts.WorkflowID, "duplicate", duplicate)
	answer := map[string]any{"execution": opts.WorkflowID, "run_id": runID}
	if duplicate {
		answer["duplicate"] = true
	}
	if h.w.Respond != engine.RespondOutputs {
		status := http.StatusAccepted
		if duplicate {
			status = http.StatusOK
		}
		g.finish(w, start, outcome{route: route, status: status, attrs: attrs, body: answer})
		return
	}
	wctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	rec, err := g.o.Client.Result(wctx, opts.WorkflowID, runID)
	switch {
	case rec != nil && rec.Status == engine.StatusSucceeded:
		answer["status"] = rec.Status
		answer["outputs"] = rec.Outputs
		g.finish(w, start, outcome{route: route, status: http.StatusOK, attrs: attrs, body: answer})
	case rec != nil && rec.Status == engine.StatusFailed:
		answer["status"] = rec.Status
		if rec.Error != nil {
			answer["error"] = rec.Error
		}
		g.finish(w, start, outcome{route: route, status: http.StatusUnprocessableEntity, attrs: attrs, body: answer})
	case wctx.Err() != nil || timedOut(err):
		answer["status"] = engine.StatusRunning
		g.finish(w, start, outcome{route: route, status: http.StatusGatewayTimeout, reason: "flow still running after the webhook's timeout", attrs: attrs, body: answer})
	default:
		g.finish(w, start, outcome{route: route, status: http.StatusBadGateway, reason: fmt.Sprint(err), attrs: attrs, body: answer})
	}
}

// timedOut reports an error that says a deadline passed: the long poll for
// a result may end with the server's or gRPC's deadline error a moment
// before the context's own deadline is seen.
func timedOut(err error) bool {
	var dl *serviceerror.DeadlineExceeded
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &dl) || status.Code(err) == codes.DeadlineExceeded
}

// requestData is what a webhook's expressions read as request.
func requestData(r *http.Request, body []byte, headers map[string]string) (map[string]any, error) {
	q := map[string]any{}
	for k, vs := range r.URL.Query() {
		q[k] = vs[0]
	}
	req := map[string]any{"method": r.Method, "path": r.URL.Path, "query": q, "headers": anyMap(headers), "body": string(body)}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case len(body) == 0:
	case ct == "application/json" || strings.HasSuffix(ct, "+json"):
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("body is not JSON: %v", err)
		}
		req["json"] = v
	case ct == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("body is not a form: %v", err)
		}
		f := map[string]any{}
		for k, vs := range vals {
			f[k] = vs[0]
		}
		req["form"] = f
	case ct == "application/xml" || ct == "text/xml" || strings.HasSuffix(ct, "+xml"):
		v, err := xmlTree(body)
		if err != nil {
			return nil, fmt.Errorf("body is not XML: %v", err)
		}
		req["xml"] = v
	}
	return req, nil
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
