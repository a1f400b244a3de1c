//! A DCPU officer's overview of the district: children per home, papers
//! present and missing per kind (a bar chart drawn on the server as
//! inline SVG, with the numbers beside the bars), transfers by
//! destination and state, and the oldest items still waiting. Numbers
//! only: no names, no document contents.

use axum::extract::State;
use axum::response::IntoResponse;

use super::page::{Chrome, Page, PageResult};
use super::session::Visitor;
use super::WebState;
use crate::domain::{DocKind, TransferState};
use crate::vault::DistrictOverview;

/// One bar of the chart, in SVG units (the chart is 100 wide).
pub struct Bar {
    pub kind: DocKind,
    pub have: u64,
    pub miss: u64,
    pub have_width: u64,
    pub miss_width: u64,
    /// Top of the bar's row.
    pub y: u64,
}

/// Height of one row of the chart.
pub const ROW: u64 = 40;

#[derive(askama::Template)]
#[template(path = "district.html")]
struct OverviewPage {
    c: Chrome,
    o: DistrictOverview,
    bars: Vec<Bar>,
    chart_height: u64,
    transfer_rows: Vec<(String, TransferState, u64)>,
}

/// `GET /district`.
pub async fn overview(State(state): State<WebState>, v: Visitor) -> PageResult {
    let (o, names) = v
        .ask(&state, |vault, who| {
            Ok((vault.district_overview(who)?, vault.department_names()?))
        })
        .await?;
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let most = o.children.max(1);
    let bars: Vec<Bar> = o
        .by_kind
        .iter()
        .enumerate()
        .map(|(i, (kind, have, miss))| Bar {
            kind: *kind,
            have: *have,
            miss: *miss,
            have_width: have * 100 / most,
            miss_width: miss * 100 / most,
            y: i as u64 * ROW,
        })
        .collect();
    let transfer_rows = o
        .transfers
        .iter()
        .flat_map(|(to, states)| {
            let to = name_of(to);
            states.iter().map(move |(s, n)| (to.clone(), *s, *n))
        })
        .collect();
    Ok(Page(OverviewPage {
        c: v.chrome().titled("district-title"),
        chart_height: bars.len() as u64 * ROW,
        bars,
        o,
        transfer_rows,
    })
    .into_response())
}
