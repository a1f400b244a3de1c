//! The outbox worker: pushes bundles to destinations' inboxes and receipts
//! back to sources, streamed, retrying with backoff while the other node is
//! down. Each push has timeouts (connecting, the gap while reading the
//! answer, and the whole request by the body's size), and different
//! destinations are pushed to at once (a bounded few), so one hung node
//! holds up nobody else. Its state lives in the vault's outbox, so pushing resumes after a
//! restart of either side; the receiving side imports a bundle once however
//! often it arrives.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use futures::StreamExt;

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

/// Destinations pushed to at once; pushes to one destination go one at a time.
const DESTINATIONS_AT_ONCE: usize = 4;
/// Longest wait for a TCP (and TLS) connection.
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// Longest gap while reading the other node's answer.
const READ_GAP: StdDuration = StdDuration::from_secs(60);
/// Every push may take this long, plus the time its body needs at
/// [`MIN_PUSH_RATE`]: a destination that stops reading is given up on.
const BASE_TIMEOUT: StdDuration = StdDuration::from_secs(60);
/// Bytes per second a destination must take at least.
const MIN_PUSH_RATE: u64 = 256 * 1024;

/// Runs until `stop` is cancelled.
pub async fn run(state: AppState, backoff: Backoff, stop: CancellationToken) {
    let client = match reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_GAP)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client; pushing is off");
            return;
        }
    };
    loop {
        match state.run(|v| v.due_pushes(Utc::now())).await {
            Ok(due) => {
                // One hung destination must not hold up the others.
                let mut by_destination: BTreeMap<String, Vec<Push>> = BTreeMap::new();
                for push in due {
                    by_destination
                        .entry(push.item.destination.clone())
                        .or_default()
                        .push(push);
                }
                futures::stream::iter(by_destination.into_values())
                    .for_each_concurrent(DESTINATIONS_AT_ONCE, |pushes| {
                        push_in_turn(&state, &client, &backoff, &stop, pushes)
                    })
                    .await;
                if stop.is_cancelled() {
                    return;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
        }
        let wait = next_wait(&state);
        tokio::select! {
            _ = state.vault.outbox_queued() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Pushes to one destination, one after another, recording each outcome.
async fn push_in_turn(
    state: &AppState,
    client: &reqwest::Client,
    backoff: &Backoff,
    stop: &CancellationToken,
    pushes: Vec<Push>,
) {
    for push in pushes {
        if stop.is_cancelled() {
            return;
        }
        let kind = push.item.kind;
        let outcome = tokio::select! {
            outcome = attempt(client, &push) => outcome,
            // An interrupted push is simply retried after the restart.
            _ = stop.cancelled() => return,
        };
        let recorded = match outcome {
            Attempt::Delivered => {
                metrics::counter!("handover_pushes_total", "kind" => kind.as_str(), "outcome" => "delivered").increment(1);
                state.run(move |v| v.push_done(push.item)).await
            }
            Attempt::Retry(why) => {
                tracing::info!(bundle = %push.item.bundle_id, kind = kind.as_str(), error = %why, "push failed; will retry");
                metrics::counter!("handover_pushes_total", "kind" => kind.as_str(), "outcome" => "retry").increment(1);
                let backoff = *backoff;
                state
                    .run(move |v| v.push_failed(push.item, &why, Some(&backoff)))
                    .await
            }
            Attempt::Refused(why) => {
                tracing::warn!(bundle = %push.item.bundle_id, kind = kind.as_str(), error = %why, "push refused");
                metrics::counter!("handover_pushes_total", "kind" => kind.as_str(), "outcome" => "refused").increment(1);
                state
                    .run(move |v| v.push_failed(push.item, &why, None))
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::error!(error = %e, "cannot record a push outcome");
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
                .timeout(BASE_TIMEOUT + StdDuration::from_secs(size / MIN_PUSH_RATE))
                .header(reqwest::header::CONTENT_TYPE, "application/zip")
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(reqwest::Body::wrap_stream(ReaderStream::with_capacity(
                    file,
                    STREAM_CHUNK,
                )))
        }
        PushBody::Bytes(bytes) => request
            .timeout(BASE_TIMEOUT)
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
