// Package telemetry measures steps on the worker that runs them: Prometheus
// metrics (step duration and outcome, TLS handshakes, days left on
// protocol-profile certificates), an OpenTelemetry span per partner call,
// and a log line per step. Labels stay bounded: flow, step kind,
// connection, status code and outcome — never step paths or URLs.
package telemetry

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outflow-dev/outflow/steps/tlsclient"
)

// Step outcomes.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
	OutcomeFault = "fault" // a SOAP fault: the partner answered, with a failure
)

// Metrics holds the worker's Outflow metrics. Create it with NewMetrics;
// it is safe for concurrent use.
type Metrics struct {
	stepDuration *prometheus.HistogramVec

	mu     sync.Mutex
	caches []*tlsclient.Cache
	certs  map[certKey]time.Time
	now    func() time.Time
}

type certKey struct{ profile, role, subject string }

var (
	handshakesDesc = prometheus.NewDesc("outflow_tls_handshakes_total",
		"TLS handshakes made by the worker's partner transports, by protocol profile and kind (full: certificates exchanged; resumed: a TLS session reused).",
		[]string{"profile", "kind"}, nil)
	certDaysDesc = prometheus.NewDesc("outflow_certificate_days_left",
		"Days until a protocol profile's certificate expires (negative once expired): the client certificate its transport presents, and the certificates the run-start check read (role client, chain or trust).",
		[]string{"profile", "role", "subject"}, nil)
)

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "outflow_step_duration_seconds",
			Help: "Duration of REST and SOAP step attempts on this worker, by flow, step kind, connection, HTTP status code (empty when no response came) and outcome (ok, error, fault).",
			// Partner calls range from a few milliseconds to the step timeout.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"flow", "kind", "connection", "status_code", "outcome", "error_type"}),
		certs: map[certKey]time.Time{},
		now:   time.Now,
	}
	if err := reg.Register(m.stepDuration); err != nil {
		return nil, err
	}
	if err := reg.Register(collector{m}); err != nil {
		return nil, err
	}
	return m, nil
}

// StepLabels say which step attempt is observed.
type StepLabels struct {
	Flow, Kind, Connection string
	StatusCode             int // 0: no response
	Outcome                string
	ErrorType              string // the failure's stable type (engine.Err*), empty when ok
}

// ObserveStep records one step attempt.
func (m *Metrics) ObserveStep(l StepLabels, d time.Duration) {
	if m == nil {
		return
	}
	code := ""
	if l.StatusCode > 0 {
		code = strconv.Itoa(l.StatusCode)
	}
	m.stepDuration.WithLabelValues(l.Flow, l.Kind, l.Connection, code, l.Outcome, l.ErrorType).Observe(d.Seconds())
}

// WatchCache exposes a transport cache's handshakes and the client
// certificates its transports present.
func (m *Metrics) WatchCache(c *tlsclient.Cache) {
	if m == nil || c == nil {
		return
	}
	m.mu.Lock()
	m.caches = append(m.caches, c)
	m.mu.Unlock()
}

// ObserveCertificate records a certificate a protocol profile uses, as the
// run-start certificate check found it.
func (m *Metrics) ObserveCertificate(profile, role, subject string, notAfter time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Bounded by the profiles and their certificates; a bound guards
	// against a store that churns through many.
	if len(m.certs) >= 1024 {
		clear(m.certs)
	}
	m.certs[certKey{profile, role, subject}] = notAfter
}

// collector reads the caches and certificates at scrape time, so days left
// are always current.
type collector struct{ m *Metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- handshakesDesc
	ch <- certDaysDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	caches := append([]*tlsclient.Cache(nil), m.caches...)
	certs := make(map[certKey]time.Time, len(m.certs))
	for k, v := range m.certs {
		certs[k] = v
	}
	m.mu.Unlock()

	handshakes := map[string]tlsclient.HandshakeStats{}
	for _, cache := range caches {
		for profile, s := range cache.HandshakesByProfile() {
			t := handshakes[profile]
			t.Full += s.Full
			t.Resumed += s.Resumed
			handshakes[profile] = t
		}
		for _, cc := range cache.ClientCertificates() {
			certs[certKey{cc.Profile, "client", cc.Subject}] = cc.NotAfter
		}
	}
	for profile, s := range handshakes {
		ch <- prometheus.MustNewConstMetric(handshakesDesc, prometheus.CounterValue, float64(s.Full), profile, "full")
		ch <- prometheus.MustNewConstMetric(handshakesDesc, prometheus.CounterValue, float64(s.Resumed), profile, "resumed")
	}
	now := m.now()
	for k, notAfter := range certs {
		ch <- prometheus.MustNewConstMetric(certDaysDesc, prometheus.GaugeValue, notAfter.Sub(now).Hours()/24, k.profile, k.role, k.subject)
	}
}
