//! What every request and response passes through besides the handler:
//! request bodies that stall or trickle are cut off (a slow client cannot
//! hold a turn for an hour), and every response gets the security headers.
//! The body guard is hand-written because no tower-http layer times the
//! gaps in a body or its rate; it is a thin wrapper over `http_body::Body`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::{Instant, Sleep};

use super::AppState;

/// Limits on how a request body arrives.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    /// Longest gap with no bytes.
    pub idle: Duration,
    /// After the first `idle`, the average rate must stay at least this.
    pub min_bytes_per_sec: u64,
}

/// A request body that fails once it stalls for `idle` or falls below the
/// minimum average rate.
struct PacedBody {
    inner: Body,
    pace: BodyPace,
    started: Instant,
    received: u64,
    deadline: Pin<Box<Sleep>>,
}

impl PacedBody {
    fn too_slow(&self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.started);
        elapsed > self.pace.idle
            && (self.received as f64) < self.pace.min_bytes_per_sec as f64 * elapsed.as_secs_f64()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body stalled or arrived too slowly")]
struct TooSlow;

impl http_body::Body for PacedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                let now = Instant::now();
                if this.too_slow(now) {
                    return Poll::Ready(Some(Err(axum::Error::new(TooSlow))));
                }
                this.deadline.as_mut().reset(now + this.pace.idle);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(TooSlow)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Wraps every request body in the pace limits.
pub async fn pace_bodies(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let pace = state.pace;
    let req = req.map(|inner| {
        Body::new(PacedBody {
            inner,
            pace,
            started: Instant::now(),
            received: 0,
            deadline: Box::pin(tokio::time::sleep(pace.idle)),
        })
    });
    next.run(req).await
}

/// Security headers on every response (a handler's own values win):
/// no sniffing, no framing, no referrer, a CSP that lets a JSON answer do
/// nothing, `Cache-Control: no-store` (answers carry personal data), and
/// HSTS when served over TLS.
pub async fn secure_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox",
    );
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::CACHE_CONTROL, "no-store");
    set(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if state.tls {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}
