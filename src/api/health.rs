//! Liveness, readiness and Prometheus metrics, and the middleware that
//! counts requests. Metrics carry the route template (`/api/v1/children/{id}`),
//! the method and the status: never an id, a name or a query string.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// The process-wide Prometheus recorder (one per process).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0,
                ])
                .expect("static buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Only fails if another recorder is installed, which nothing here does.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The node can serve: its database answers and it is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match state.run(|v| v.ready()).await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
        }
    }
}

/// Prometheus text format. With the `metrics_token` setting, only for
/// `Authorization: Bearer METRICS_TOKEN`.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain"),
              (status = 401, body = super::Problem)))]
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(want) = &state.metrics_token {
        let got = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compare digests: the time taken says nothing of the token.
        use sha2::{Digest, Sha256};
        if Sha256::digest(got.trim().as_bytes()) != Sha256::digest(want.as_bytes()) {
            return super::ApiError::unauthenticated().into_response();
        }
    }
    // What a second person watches: acts that could let an administrator
    // read papers under another's account.
    match state.run(|v| v.oversight_counts()).await {
        Ok(counts) => {
            for c in counts {
                metrics::gauge!("handover_oversight_events", "kind" => c.kind.as_str())
                    .set(c.count as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "oversight counts unavailable"),
    }
    metrics::counter!("handover_password_checks_total").absolute(state.vault.password_checks());
    // What the operations guide's alerts watch (docs/OPERATIONS.md).
    match state.run(|v| v.operations_gauges()).await {
        Ok(g) => {
            let set = |name: &'static str, value: u64| metrics::gauge!(name).set(value as f64);
            set("handover_outbox_pending", g.outbox_pending);
            set("handover_outbox_retrying", g.outbox_retrying);
            set("handover_outbox_given_up", g.outbox_given_up);
            set("handover_transfers_undelivered", g.transfers_undelivered);
            set(
                "handover_transfer_oldest_undelivered_seconds",
                g.oldest_undelivered_secs,
            );
            set("handover_data_free_bytes", g.data_free_bytes);
            set("handover_data_size_bytes", g.data_total_bytes);
            metrics::counter!("handover_audit_write_errors_total").absolute(g.audit_write_errors);
        }
        Err(e) => tracing::warn!(error = %e, "operations gauges unavailable"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The method as a metric label: the standard ones by name, any other as
/// `other` (labels made up by clients would grow the metrics without bound).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *m {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts every request and its latency by route template, method and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method()).to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    // A page's route template comes back in its response (`web::guard`).
    let route = match response.extensions().get::<MatchedPath>() {
        Some(p) if route == "unmatched" => p.as_str().to_string(),
        _ => route,
    };
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    tracing::info!(%method, %route, %status, ms = (elapsed * 1000.0) as u64, "request");
    metrics::counter!("handover_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("handover_http_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed);
    response
}
