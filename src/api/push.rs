//! The outbox worker: pushes bundles to destinations' inboxes and receipts
//! back to sources, streamed, retrying with backoff while the other node is
//! down. Its state lives in the vault's outbox, so pushing resumes after a
//! restart of either side; the receiving side imports a bundle once however
//! often it arrives.

use std::time::Duration as StdDuration;

use chrono::Utc;
use reqwest::StatusCode;
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

use super::AppState;
use crate::domain::OutboxKind;
use crate::vault::{Backoff, Push, PushBody};

/// Bytes read from a bundle file per chunk sent.
const STREAM_CHUNK: usize = 256 * 1024;
/// Longest sleep between looks at the outbox when nothing wakes the worker.
const IDLE: StdDuration = StdDuration::from_secs(30);

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Worth trying again later (the node is down, busy, or not ready for us).
    Retry(String),
    /// The other node refused it for good.
    Refused(String),
}

/// Runs until `stop` is cancelled.
pub async fn run(state: AppState, backoff: Backoff, stop: CancellationToken) {
    let client = match reqwest::Client::builder()
        .connect_timeout(StdDuration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client; pushing is off");
            return;
        }
    };
    loop {
        match state.vault.due_pushes(Utc::now()) {
            Ok(due) => {
                for push in due {
                    if stop.is_cancelled() {
                        return;
                    }
                    let kind = push.item.kind;
                    let outcome = tokio::select! {
                        outcome = attempt(&client, &push) => outcome,
                        // An interrupted push is simply retried after the restart.
                        _ = stop.cancelled() => return,
                    };
                    let recorded = match outcome {
                        Attempt::Delivered => {
                            metrics::counter!("handover_pushes_total", "kind" => kind.as_str(), "outcome" => "delivered").increment(1);
                            state.vault.push_done(push.item)
                        }
                        Attempt::Retry(why) => {
                            tracing::info!(bundle = %push.item.bundle_id, kind = kind.as_str(), error = %why, "push failed; will retry");
                            metrics::counter!("handover_pushes_total", "kind" => kind.as_str(), "outcome" => "retry").increment(1);
                            state.vault.push_failed(push.item, &why, Some(&backoff))
                        }
                        Attempt::Refused(why) => {
                            tracing::warn!(bundle = %push.item.bundle_id, kind = kind.as_str(), error = %why, "push refused");
                            metrics::counter!("handover_pushes_total", "kind" => kind.as_str(), "outcome" => "refused").increment(1);
                            state.vault.push_failed(push.item, &why, None)
                        }
                    };
                    if let Err(e) = recorded {
                        tracing::error!(error = %e, "cannot record a push outcome");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
        }
        let wait = next_wait(&state);
        tokio::select! {
            _ = state.pushes.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Until the soonest pending push is due (at most [`IDLE`]).
fn next_wait(state: &AppState) -> StdDuration {
    let soonest = state
        .vault
        .next_push_at()
        .ok()
        .flatten()
        .map(|at| (at - Utc::now()).to_std().unwrap_or(StdDuration::ZERO));
    soonest.map_or(IDLE, |w| w.min(IDLE))
}

async fn attempt(client: &reqwest::Client, push: &Push) -> Attempt {
    let request = client.post(&push.url);
    let request = match &push.body {
        PushBody::File(path) => {
            let file = match tokio::fs::File::open(path).await {
                Ok(f) => f,
                Err(e) => return Attempt::Refused(format!("the bundle file cannot be read: {e}")),
            };
            let size = match file.metadata().await {
                Ok(m) => m.len(),
                Err(e) => return Attempt::Refused(format!("the bundle file cannot be read: {e}")),
            };
            request
                .header(reqwest::header::CONTENT_TYPE, "application/zip")
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(reqwest::Body::wrap_stream(ReaderStream::with_capacity(
                    file,
                    STREAM_CHUNK,
                )))
        }
        PushBody::Bytes(bytes) => request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes.clone()),
    };
    match request.send().await {
        Ok(r) if r.status().is_success() => Attempt::Delivered,
        Ok(r) => {
            let status = r.status();
            let detail = problem_type(r).await;
            let why = format!("{} answered {status} ({detail})", push.item.destination);
            // A bundle the destination cannot verify yet (its directory may
            // lack our card) is worth retrying; other refusals are final.
            if status.is_server_error()
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::UNPROCESSABLE_ENTITY
                || status == StatusCode::NOT_FOUND && push.item.kind == OutboxKind::Receipt
            {
                Attempt::Retry(why)
            } else {
                Attempt::Refused(why)
            }
        }
        Err(e) => Attempt::Retry(format!("{} unreachable: {e}", push.item.destination)),
    }
}

/// The `type` of a problem+json answer, for the outbox's last error.
async fn problem_type(r: reqwest::Response) -> String {
    let body = r.bytes().await.unwrap_or_default();
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "no problem type".into())
}
