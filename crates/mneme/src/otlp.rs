//! OpenTelemetry traces over OTLP/HTTP (JSON), without the OpenTelemetry SDK: a
//! `tracing_subscriber` layer gives each span a trace and span id (its parent's trace, or the
//! caller's W3C `traceparent` recorded on the request span, or a new one), and on close queues
//! it; a thread of its own batches the queue and POSTs `/v1/traces`. The queue is bounded and
//! drops spans when full, and each export has a timeout, so a slow or absent collector never
//! slows the server.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, warn};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Finished spans waiting for export; more are dropped.
const QUEUE: usize = 4096;
/// The most spans one export carries.
const MAX_BATCH: usize = 512;
/// How long the first span of a batch waits for others.
const BATCH_DELAY: Duration = Duration::from_millis(500);
/// One export's limit.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server waits at exit for the last spans to leave.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Where traces go and the service they are from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OtlpSettings {
    /// The collector's traces URL (`…/v1/traces`).
    pub(crate) url: String,
    pub(crate) service_name: String,
    /// Headers every export carries (a hosted collector's key); `Debug` shows their names only.
    pub(crate) headers: Headers,
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: `name=value` pairs, comma-separated.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct Headers(pub(crate) Vec<(String, String)>);

impl Headers {
    /// The pairs of `a=1,b=2` (values percent-decoded no further: keys rarely need it); a
    /// pair without `=` is ignored.
    pub(crate) fn parse(text: &str) -> Headers {
        let pairs = text.split(',').filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_owned(), value.trim().to_owned()))
        });
        Headers(pairs.collect())
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl OtlpSettings {
    /// From the standard variables' values: the endpoint is the collector's base address
    /// (`/v1/traces` is added) unless it names the traces path already.
    pub(crate) fn new(
        endpoint: &str,
        service_name: Option<String>,
        headers: Headers,
    ) -> OtlpSettings {
        let base = endpoint.trim_end_matches('/');
        let url = if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        };
        OtlpSettings {
            url,
            service_name: service_name.unwrap_or_else(|| "mneme".to_owned()),
            headers,
        }
    }
}

/// The layer and the exporter it feeds; the exporter flushes when dropped.
pub(crate) fn start(settings: OtlpSettings) -> (OtlpLayer, Exporter) {
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    // Without its thread the queue fills and spans are dropped: the server runs untraced.
    let _ = std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(move || export_loop(&settings, rx));
    (OtlpLayer { queue: tx.clone() }, Exporter { queue: tx })
}

enum Msg {
    Span(Box<Finished>),
    /// Export what is queued, then answer.
    Flush(SyncSender<()>),
}

/// Flushes the queued spans when dropped (at the server's exit).
pub(crate) struct Exporter {
    queue: SyncSender<Msg>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let (tx, rx) = mpsc::sync_channel(1);
        if self.queue.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(FLUSH_TIMEOUT);
        }
    }
}

/// A span's trace identity and what it recorded, kept in the span's extensions.
struct SpanData {
    trace_id: u128,
    span_id: u64,
    parent_id: Option<u64>,
    start: SystemTime,
    /// When the span was last left: its work's end (a parent stays open while its children
    /// do, so its close can be much later).
    last_exit: Option<SystemTime>,
    attributes: Vec<(&'static str, Value)>,
}

/// A closed span, ready to export.
struct Finished {
    data: SpanData,
    name: &'static str,
    target: &'static str,
    end: SystemTime,
}

pub(crate) struct OtlpLayer {
    queue: SyncSender<Msg>,
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let parent = span.parent().and_then(|p| {
            let ext = p.extensions();
            ext.get::<SpanData>().map(|d| (d.trace_id, d.span_id))
        });
        let (trace_id, parent_id) = match parent.or(fields.remote_parent) {
            Some((trace, parent)) => (trace, Some(parent)),
            None => (nonzero(rand::random::<u128>()), None),
        };
        span.extensions_mut().insert(SpanData {
            trace_id,
            span_id: nonzero(rand::random::<u64>()),
            parent_id,
            start: SystemTime::now(),
            last_exit: None,
            attributes: fields.attributes,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(data) = span.extensions_mut().get_mut::<SpanData>() {
            data.attributes.extend(fields.attributes);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(data) = span.extensions_mut().get_mut::<SpanData>() {
            data.last_exit = Some(SystemTime::now());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(data) = span.extensions_mut().remove::<SpanData>() else {
            return;
        };
        let finished = Finished {
            end: data.last_exit.unwrap_or_else(SystemTime::now),
            data,
            name: span.name(),
            target: span.metadata().target(),
        };
        // A full queue drops the span: tracing must not hold the server up.
        let _ = self.queue.try_send(Msg::Span(Box::new(finished)));
    }
}

/// Zero is an invalid id in OpenTelemetry.
fn nonzero<T: PartialEq + From<u8>>(id: T) -> T {
    if id == T::from(0) { T::from(1) } else { id }
}

/// A span's fields as attributes, and the caller's trace context if one is among them.
#[derive(Default)]
struct Fields {
    attributes: Vec<(&'static str, Value)>,
    remote_parent: Option<(u128, u64)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "traceparent" {
            self.remote_parent = parse_traceparent(value);
            return;
        }
        self.attributes
            .push((field.name(), json!({ "stringValue": value })));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let value = json!({ "intValue": value.to_string() });
        self.attributes.push((field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = json!({ "intValue": value.to_string() });
        self.attributes.push((field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes
            .push((field.name(), json!({ "boolValue": value })));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes
            .push((field.name(), json!({ "doubleValue": value })));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// The trace and parent span ids of `00-<trace>-<span>-<flags>`.
fn parse_traceparent(v: &str) -> Option<(u128, u64)> {
    let mut parts = v.split('-');
    let (Some("00"), Some(trace), Some(span)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let trace = u128::from_str_radix(trace, 16).ok().filter(|t| *t != 0)?;
    let span = u64::from_str_radix(span, 16).ok().filter(|s| *s != 0)?;
    Some((trace, span))
}

/// Batches the queue and exports each batch, until every sender is gone.
fn export_loop(settings: &OtlpSettings, rx: Receiver<Msg>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return warn!(error = %e, "cannot start the trace exporter"),
    };
    // The client's connector needs the runtime's reactor.
    let _entered = runtime.enter();
    let client = match reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => return warn!(error = %e, "cannot start the trace exporter"),
    };
    let mut failing = false;
    while let Ok(first) = rx.recv() {
        let (batch, flushed) = collect(first, &rx);
        if !batch.is_empty() {
            let body = document(settings, &batch);
            let mut request = client.post(&settings.url).json(&body);
            for (name, value) in &settings.headers.0 {
                request = request.header(name, value);
            }
            let sent = runtime.block_on(request.send());
            let ok = sent.as_ref().is_ok_and(|r| r.status().is_success());
            // Said once per outage, not once per batch.
            if !ok && !failing {
                let why = sent.map_or_else(|e| e.to_string(), |r| r.status().to_string());
                warn!(url = %settings.url, error = %why, "cannot export traces");
            }
            failing = !ok;
        }
        if let Some(ack) = flushed {
            let _ = ack.send(());
        }
    }
}

/// One batch: `first` and what follows within `BATCH_DELAY`, up to `MAX_BATCH` or a flush
/// request (returned, to answer once the batch is out).
fn collect(first: Msg, rx: &Receiver<Msg>) -> (Vec<Finished>, Option<SyncSender<()>>) {
    let mut batch = Vec::new();
    let deadline = Instant::now() + BATCH_DELAY;
    let mut next = Some(first);
    while let Some(msg) = next.take() {
        match msg {
            Msg::Span(span) => batch.push(*span),
            Msg::Flush(ack) => return (batch, Some(ack)),
        }
        if batch.len() >= MAX_BATCH {
            break;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        // A timeout or a closed queue ends the batch alike.
        next = rx.recv_timeout(wait).ok();
    }
    (batch, None)
}

/// The OTLP/JSON document of a batch.
fn document(settings: &OtlpSettings, batch: &[Finished]) -> Value {
    let spans: Vec<Value> = batch.iter().map(span_json).collect();
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": settings.service_name}},
                {"key": "service.version", "value": {"stringValue": env!("CARGO_PKG_VERSION")}},
            ]},
            "scopeSpans": [{
                "scope": {"name": "mneme", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans,
            }],
        }],
    })
}

/// SPAN_KIND_SERVER for the HTTP request, SPAN_KIND_INTERNAL for the rest.
fn kind(span: &Finished) -> u8 {
    if span.name == "request" && span.target.starts_with("mneme_server") {
        2
    } else {
        1
    }
}

fn span_json(span: &Finished) -> Value {
    let d = &span.data;
    let mut attributes: Vec<Value> = d
        .attributes
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    attributes.push(json!({"key": "code.namespace", "value": {"stringValue": span.target}}));
    json!({
        "traceId": format!("{:032x}", d.trace_id),
        "spanId": format!("{:016x}", d.span_id),
        "parentSpanId": d.parent_id.map(|p| format!("{p:016x}")).unwrap_or_default(),
        "name": span.name,
        "kind": kind(span),
        "startTimeUnixNano": unix_nanos(d.start),
        "endTimeUnixNano": unix_nanos(span.end.max(d.start)),
        "attributes": attributes,
        "status": {"code": status_code(d)},
    })
}

/// STATUS_CODE_ERROR for a request answered with a 5xx, else STATUS_CODE_UNSET.
fn status_code(d: &SpanData) -> u8 {
    let failed = d.attributes.iter().any(|(key, value)| {
        *key == "status"
            && value["intValue"]
                .as_str()
                .and_then(|s| s.parse::<u16>().ok())
                .is_some_and(|s| s >= 500)
    });
    if failed { 2 } else { 0 }
}

/// Nanoseconds since the epoch, as a string (OTLP/JSON's form of a 64-bit integer).
fn unix_nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_a_base_unless_it_names_the_traces_path() {
        let s = OtlpSettings::new("http://c:4318/", None, Headers::default());
        assert_eq!(s.url, "http://c:4318/v1/traces");
        assert_eq!(s.service_name, "mneme");
        let headers = Headers::parse("x-honeycomb-team=abc, Authorization=Basic x=y,bad");
        let s = OtlpSettings::new("http://c:4318/v1/traces", Some("api".into()), headers);
        assert_eq!(s.url, "http://c:4318/v1/traces");
        assert_eq!(s.service_name, "api");
        let pairs = [("x-honeycomb-team", "abc"), ("Authorization", "Basic x=y")];
        let pairs = pairs.map(|(n, v)| (n.to_owned(), v.to_owned()));
        assert_eq!(s.headers.0, pairs);
        assert_eq!(
            format!("{:?}", s.headers),
            r#"["x-honeycomb-team", "Authorization"]"#
        );
    }

    #[test]
    fn a_traceparent_gives_the_trace_and_its_parent() {
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(v),
            Some((0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7))
        );
        assert_eq!(parse_traceparent("01-ab-cd-01"), None);
        assert_eq!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
    }
}
