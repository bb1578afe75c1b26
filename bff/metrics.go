package bff

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus collectors, on a registry of its own
// so that several servers (tests, replicas in one process) never collide.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ready    prometheus.Gauge
	audit    *prometheus.CounterVec
	limited  *prometheus.CounterVec
	codes    prometheus.Counter
	streams  prometheus.Gauge
	// notifications counts the outbox worker's outcomes.
	notifications *prometheus.CounterVec
	// merchantEvents counts the outbox worker's outcomes for merchant
	// webhooks; merchantEnqueue the approved movements whose event could
	// not be queued; support the operators' support reads.
	merchantEvents  *prometheus.CounterVec
	merchantEnqueue prometheus.Counter
	support         *prometheus.CounterVec
	// hubUp is 1 while the replica's Redis subscription is confirmed.
	hubUp       prometheus.Gauge
	money       *prometheus.CounterVec
	suspensions prometheus.Counter
	// The operator's switches as this replica enforces them.
	switchOff    *prometheus.GaugeVec
	reauthAfter  prometheus.Gauge
	switchErrors prometheus.Counter
	// problems counts every problem answered, by its stable code: the
	// 7pay signals (passkey_rejected, new_device) are among them.
	problems *prometheus.CounterVec
	// amount is the approved money volume in minor units (yen for JPY).
	amount *prometheus.CounterVec
	// The notification outbox's backlog (read every readyInterval).
	outboxPending prometheus.Gauge
	outboxOldest  prometheus.Gauge
	outboxDead    prometheus.Gauge
	// pairings counts pairing codes by outcome; salesReads the reads of
	// stores' sales logs by caller (terminal, operator).
	pairings   *prometheus.CounterVec
	salesReads *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paycode_http_requests_total",
			Help: "HTTP requests by listener, route pattern, method and status.",
		}, []string{"listener", "route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paycode_http_request_duration_seconds",
			Help:    "HTTP request latency by listener, route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"listener", "route", "method"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "paycode_store_ready",
			Help: "1 when the last readiness round trip to Redis succeeded, else 0.",
		}),
	}
	m.audit = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_audit_events_total",
		Help: "Audit events by type (security-relevant actions).",
	}, []string{"type"})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_rate_limited_total",
		Help: "Requests refused by a rate limit, by limit.",
	}, []string{"limit"})
	m.codes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "paycode_codes_issued_total",
		Help: "Payment codes issued.",
	})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_notifications_total",
		Help: "Notification outbox deliveries on this replica by outcome: sent, retry (a failed attempt, retried after backoff), dead (out of attempts: in the dead-letter list), decoy (dropped).",
	}, []string{"outcome"})
	m.merchantEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_merchant_webhooks_total",
		Help: "Merchant webhook deliveries on this replica by outcome: sent, retry (a failed attempt, retried after backoff), dead (out of attempts: in the dead-letter list), dropped (no endpoint, or the movement was declined), later (the movement not recorded yet).",
	}, []string{"outcome"})
	m.merchantEnqueue = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "paycode_merchant_webhook_enqueue_failures_total",
		Help: "Approved movements whose merchant event could not be queued (the movement stands; a replay sends the event).",
	})
	m.support = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_support_reads_total",
		Help: "Operator support reads by call (account_lookup, wallet, ledger) and result (found, not_found).",
	}, []string{"call", "result"})
	m.hubUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "paycode_event_hub_up",
		Help: "1 while this replica's one Redis subscription (event streams, switch changes) is confirmed; 0 while it reconnects (streams answer 503, switches fall back to the 1 s re-read).",
	})
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "paycode_event_streams",
		Help: "Open event streams (SSE) on this replica.",
	})
	m.money = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_money_movements_total",
		Help: "Terminal money movements by kind (payment, refund, topup) and outcome (approved or the decline reason).",
	}, []string{"kind", "outcome"})
	m.suspensions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "paycode_terminal_suspensions_total",
		Help: "Terminals suspended automatically for code guessing.",
	})
	m.switchOff = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "paycode_switch_off",
		Help: "1 when an operator switch restricts its channel on this replica (signups, topups, new_devices off; blocked_countries non-empty; reauth_after set), else 0.",
	}, []string{"switch"})
	m.reauthAfter = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "paycode_switch_reauth_after_timestamp_seconds",
		Help: "The forced re-authentication cut-off (Unix seconds) this replica enforces; 0 when none.",
	})
	m.switchErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "paycode_switch_read_errors_total",
		Help: "Failed reads of the operator switches (the risky channels failed closed until the next read).",
	})
	m.problems = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_problems_total",
		Help: "Problem responses by listener and stable problem code (the codes of the error table; unknown errors count as internal).",
	}, []string{"listener", "code"})
	m.amount = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_money_amount_total",
		Help: "Approved money movements' amounts by kind (payment, refund, topup) and currency, in the currency's minor units (yen for JPY); an idempotent replay is not counted again.",
	}, []string{"kind", "currency"})
	m.outboxPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "paycode_outbox_pending",
		Help: "Notifications waiting in the outbox (all replicas share it), read every 5 s; 0 without a webhook.",
	})
	m.outboxOldest = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "paycode_outbox_oldest_age_seconds",
		Help: "How long the oldest waiting notification has waited (the outbox's lag), read every 5 s; 0 when none waits.",
	})
	m.outboxDead = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "paycode_outbox_dead",
		Help: "Notifications in the dead-letter list (out of attempts), read every 5 s.",
	})
	m.registry.MustRegister(m.problems, m.amount, m.outboxPending, m.outboxOldest, m.outboxDead)
	m.pairings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_terminal_pairings_total",
		Help: "Terminal pairing codes by outcome: created (by an operator), redeemed (a terminal registered), failed (an unknown, spent or expired code).",
	}, []string{"outcome"})
	m.salesReads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paycode_sales_reads_total",
		Help: "Pages read from stores' sales logs, by caller: terminal (today's sales) or operator (a store's payments).",
	}, []string{"caller"})
	m.registry.MustRegister(m.pairings, m.salesReads, m.hubUp, m.notifications, m.merchantEvents, m.merchantEnqueue, m.support, m.requests, m.latency, m.ready, m.audit, m.limited, m.codes, m.streams, m.money, m.suspensions,
		m.switchOff, m.reauthAfter, m.switchErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
