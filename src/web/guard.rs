//! What every page request and response passes through: a state-changing
//! request must come from our own origin (`Sec-Fetch-Site`, else
//! `Origin`) and carry the form token bound to its session; every answer
//! gets the pages' security headers; and the route template of a matched
//! page is handed to the server's request log (never the path itself,
//! which holds ids).

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::{page, session, WebState};

/// Largest form body read (forms other than uploads are small).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The CSP of every page: our own scripts, styles and images only, no
/// inline code, no framing, forms only to ourselves.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

/// Copies the matched route template into the response, where the
/// server's request log finds it.
pub async fn keep_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Refuses a state-changing request from another origin, or without the
/// form token of its session (in an `application/x-www-form-urlencoded`
/// body, or for an upload in the `csrf` query parameter).
pub async fn same_origin_posts(
    State(state): State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let lang = session::page_language(req.headers());
    if !same_origin(&state, req.headers()) {
        return page::refused_post(lang);
    }
    let expected = session::form_tokens(&state, req.headers());
    let in_query = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(token) = in_query {
        return if session::token_matches(&expected, &token) {
            next.run(req).await
        } else {
            page::refused_post(lang)
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return page::refused_post(lang);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return page::refused_post(lang);
    };
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    match token {
        Some(t) if session::token_matches(&expected, &t) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => page::refused_post(lang),
    }
}

/// `Sec-Fetch-Site: same-origin`; or, from a browser that does not send
/// it, an `Origin` that is this node's (the request's host, or the
/// public URL's origin).
fn same_origin(state: &WebState, headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    crate::domain::same_origin(
        headers.get("sec-fetch-site").map(HeaderValue::as_bytes),
        text(header::ORIGIN),
        text(header::HOST),
        state.tls,
        state.public_origin.as_deref(),
    )
}

/// The pages' security headers (a handler's own values win): the strict
/// CSP, no sniffing, no referrer, no framing, and `no-store`, since pages
/// show children's data and a shared phone must not keep them.
pub async fn page_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, PAGE_CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::CACHE_CONTROL, "no-store");
    set(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    response
}
