//! Prometheus metrics: requests by route and status, a latency histogram, and the pool's state.
//!
//! Routes are labelled by their pattern (`/api/v1/events/{id}`), never the raw path, so the
//! number of series stays bounded whatever clients send. The registry sits below the features so
//! the mail worker can count deliveries; the request middleware is in `http::metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboxLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadLabels {
    /// "replica" or "primary".
    pub from: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListLabels {
    /// "memory" or "database".
    pub from: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    pool_queued: Gauge,
    pool_turns: Counter,
    /// The pool's turn count at the last scrape (the counter moves by the difference).
    turns_seen: std::sync::atomic::AtomicU64,
    outbox: Family<OutboxLabels, Gauge>,
    mail_sent: Counter,
    mail_failed: Counter,
    reads: Family<ReadLabels, Counter>,
    event_lists: Family<ListLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tomoni");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let pool_connections = Gauge::default();
        let pool_idle = Gauge::default();
        let pool_max = Gauge::default();
        let pool_queued = Gauge::default();
        let pool_turns = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by route pattern",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections in the pool",
            pool_connections.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections in the pool",
            pool_idle.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Configured pool size",
            pool_max.clone(),
        );
        registry.register(
            "db_pool_queued_requests",
            "Requests waiting for their turn at the pool",
            pool_queued.clone(),
        );
        registry.register(
            "db_pool_turns",
            "Turns taken at the pool (one per piece of a request's database work; a page or an endpoint takes one or two)",
            pool_turns.clone(),
        );
        let outbox = Family::<OutboxLabels, Gauge>::default();
        let (mail_sent, mail_failed) = (Counter::default(), Counter::default());
        registry.register(
            "mail_outbox_messages",
            "Messages in the outbox, by status (read at scrape time)",
            outbox.clone(),
        );
        registry.register(
            "mail_sent",
            "Messages this process delivered",
            mail_sent.clone(),
        );
        registry.register(
            "mail_failed",
            "Delivery attempts of this process that failed (retried or dead)",
            mail_failed.clone(),
        );
        let reads = Family::<ReadLabels, Counter>::default();
        registry.register(
            "db_replica_eligible_reads",
            "Reads that may use the replica, by where they were answered (primary: no replica configured, or it lagged or did not answer)",
            reads.clone(),
        );
        let event_lists = Family::<ListLabels, Counter>::default();
        registry.register(
            "event_list_pages",
            "Event list pages answered, by where they came from (memory: the employees' list cache)",
            event_lists.clone(),
        );
        Metrics {
            registry,
            reads,
            event_lists,
            requests,
            latency,
            pool_connections,
            pool_idle,
            pool_max,
            pool_queued,
            pool_turns,
            turns_seen: Default::default(),
            outbox,
            mail_sent,
            mail_failed,
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = method.to_owned();
        let route = route.to_owned();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The outbox's size by status, as just counted.
    pub fn set_outbox(&self, counts: &[(String, i64)]) {
        for status in ["pending", "sending", "sent", "dead", "cancelled"] {
            let n = counts
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n);
            self.outbox
                .get_or_create(&OutboxLabels {
                    status: status.to_owned(),
                })
                .set(n);
        }
    }

    /// Counts a read that could have used the replica, by where it went.
    pub fn replica_eligible_read(&self, from: &str) {
        self.reads
            .get_or_create(&ReadLabels {
                from: from.to_owned(),
            })
            .inc();
    }

    /// Counts an event list page by where it came from ("memory" or "database").
    pub fn event_list_page(&self, from: &'static str) {
        self.event_lists.get_or_create(&ListLabels { from }).inc();
    }

    pub fn mail_delivered(&self, sent: usize, failed: usize) {
        self.mail_sent.inc_by(sent as u64);
        self.mail_failed.inc_by(failed as u64);
    }

    /// Renders the OpenMetrics text, reading the pool's state at scrape time.
    pub fn render(&self, pool: &crate::db::Pool) -> Result<String, std::fmt::Error> {
        let state = pool.state();
        self.pool_connections.set(i64::from(state.connections));
        self.pool_idle.set(i64::from(state.idle_connections));
        self.pool_max.set(i64::from(pool.max_size()));
        self.pool_queued.set(pool.queued() as i64);
        let turns = pool.turns();
        let seen = self
            .turns_seen
            .swap(turns, std::sync::atomic::Ordering::Relaxed);
        self.pool_turns.inc_by(turns.saturating_sub(seen));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
