//! The children's pages: the list (with each child's restoration
//! checklist, a search by name that never puts the name in a URL, pages
//! of 50), the intake form, and one child's page with the record, the
//! papers by kind, and what the visitor may do next.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use serde::Deserialize;

use super::page::{error_page, Chrome, Page, PageResult};
use super::session::Visitor;
use super::WebState;
use crate::domain::{
    CaseRecord, CaseRecordPatch, ChildId, DocKind, Document, Grant, PageRequest, Sex, Transfer,
};
use crate::vault::{ChildAbilities, ChildSummary, ChildView, Purpose};

/// Children on one page of the list.
pub const PAGE_SIZE: usize = 50;

#[derive(askama::Template)]
#[template(path = "children.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<ChildSummary>,
    q: String,
    /// Whether this is a later page (offer the first one again).
    later: bool,
    /// The cursor of the next page, if there may be one.
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// Where the previous page ended (a child id, never a name).
    after: Option<String>,
}

#[derive(Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    after: Option<String>,
}

/// `GET /children`: the children the visitor may see, a page at a time.
pub async fn list(
    State(state): State<WebState>,
    v: Visitor,
    Query(p): Query<ListQuery>,
) -> PageResult {
    render_list(&state, v, String::new(), p.after).await
}

/// `POST /children`: the same list, searched by name (posted, so the
/// name never appears in a URL or the browser's history).
pub async fn search(
    State(state): State<WebState>,
    v: Visitor,
    Form(f): Form<SearchForm>,
) -> PageResult {
    render_list(&state, v, f.q.trim().to_string(), f.after).await
}

async fn render_list(state: &WebState, v: Visitor, q: String, after: Option<String>) -> PageResult {
    let later = after.as_deref().is_some_and(|a| !a.is_empty());
    let request = PageRequest::new(Some(PAGE_SIZE), after, Some(&q)).map_err(|_| {
        let c = v.chrome();
        let field = c.t("children-search");
        error_page(
            c,
            StatusCode::UNPROCESSABLE_ENTITY,
            "error-invalid-field",
            vec![field],
        )
    })?;
    let found = v
        .ask(state, move |vault, who| {
            vault.children_overview_page(who, Purpose::Restoration, &request)
        })
        .await?;
    Ok(Page(ListPage {
        c: v.chrome().titled("children-title"),
        rows: found.items,
        q,
        later,
        next: found.next,
    })
    .into_response())
}

/// The fields of the intake and edit forms, as posted.
#[derive(Deserialize, Default)]
pub struct RecordForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    estimated_age: String,
    #[serde(default)]
    home_state: String,
    #[serde(default)]
    home_district: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    rescue_date: String,
    #[serde(default)]
    rescue_place: String,
    #[serde(default)]
    cwc_case_number: String,
    #[serde(default)]
    languages: String,
    #[serde(default)]
    notes: String,
}

fn text(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A field that did not parse: its message id.
struct BadField(&'static str);

impl RecordForm {
    fn date(s: &str) -> Result<Option<NaiveDate>, BadField> {
        match text(s) {
            None => Ok(None),
            Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| BadField("form-bad-date")),
        }
    }

    fn record(&self) -> Result<CaseRecord, BadField> {
        Ok(CaseRecord {
            name: self.name.trim().to_string(),
            sex: text(&self.sex)
                .map(|s| s.parse::<Sex>())
                .transpose()
                .map_err(|_| BadField("form-bad-sex"))?,
            date_of_birth: Self::date(&self.date_of_birth)?,
            estimated_age: text(&self.estimated_age)
                .map(|a| a.parse::<u8>())
                .transpose()
                .map_err(|_| BadField("form-bad-age"))?,
            home_state: text(&self.home_state),
            home_district: text(&self.home_district),
            institution: None,
            district: text(&self.district),
            rescue_date: Self::date(&self.rescue_date)?,
            rescue_place: text(&self.rescue_place),
            cwc_case_number: text(&self.cwc_case_number),
            languages: self.languages.split(',').filter_map(text).collect(),
            notes: text(&self.notes),
        })
    }

    /// The fields that differ from `current` (a blank field leaves its
    /// value as it is).
    fn patch(&self, current: &CaseRecord) -> Result<CaseRecordPatch, BadField> {
        let new = self.record()?;
        let mut p = CaseRecordPatch::default();
        macro_rules! changed {
            ($($f:ident),*) => {$(
                if new.$f.is_some() && new.$f != current.$f {
                    p.$f = new.$f.clone();
                }
            )*};
        }
        if !new.name.is_empty() && new.name != current.name {
            p.name = Some(new.name.clone());
        }
        changed!(
            sex,
            date_of_birth,
            estimated_age,
            home_state,
            home_district,
            rescue_date,
            rescue_place,
            cwc_case_number,
            notes
        );
        if !new.languages.is_empty() && new.languages != current.languages {
            p.languages = Some(new.languages);
        }
        Ok(p)
    }
}

#[derive(askama::Template)]
#[template(path = "child_new.html")]
struct NewChildPage {
    c: Chrome,
    record: CaseRecord,
    sexes: [&'static str; 4],
}

const SEXES: [&str; 4] = [
    Sex::Female.as_str(),
    Sex::Male.as_str(),
    Sex::Transgender.as_str(),
    Sex::Unknown.as_str(),
];

/// `GET /children/new`: the intake form; only the name is required.
pub async fn new_form(v: Visitor) -> Response {
    Page(NewChildPage {
        c: v.chrome().titled("child-new-title"),
        record: CaseRecord::default(),
        sexes: SEXES,
    })
    .into_response()
}

/// `POST /children/new`: takes the child in, then shows their page.
pub async fn add(
    State(state): State<WebState>,
    v: Visitor,
    Form(f): Form<RecordForm>,
) -> PageResult {
    let record = f.record().map_err(|BadField(m)| v.bad_form(m))?;
    if record.name.is_empty() {
        return Err(v.bad_form("form-name-required"));
    }
    let id = v
        .ask(&state, |vault, who| vault.add_child(who, record))
        .await?;
    Ok(Redirect::to(&format!("/children/{id}")).into_response())
}

/// The papers of one kind on a child's page.
pub struct KindGroup {
    pub kind: DocKind,
    pub documents: Vec<Document>,
    pub required: bool,
}

#[derive(askama::Template)]
#[template(path = "child.html")]
struct ChildPage {
    c: Chrome,
    view: ChildView,
    groups: Vec<KindGroup>,
    may: ChildAbilities,
    transfers: Vec<Transfer>,
    grants: Vec<Grant>,
    sexes: [&'static str; 4],
}

/// `GET /children/{id}`: the record, the papers by kind with an "add"
/// for each missing kind, the transfers and grants, and the next steps.
pub async fn show(State(state): State<WebState>, v: Visitor, Path(id): Path<String>) -> PageResult {
    let id: ChildId = v.id(&id)?;
    let (view, may, transfers, grants) = v
        .ask(&state, move |vault, who| {
            let view = vault.show_child(who, id, Purpose::Restoration)?;
            let may = vault.child_abilities(who, id)?;
            let transfers = if may.create_transfer || may.approve_transfer {
                vault.list_transfers(who, Some(id))?
            } else {
                Vec::new()
            };
            let grants = if may.grant_access {
                vault.list_grants(who, Some(id))?
            } else {
                Vec::new()
            };
            Ok((view, may, transfers, grants))
        })
        .await?;
    let groups = group_by_kind(&view);
    Ok(Page(ChildPage {
        c: v.chrome().titled("child-title"),
        view,
        groups,
        may,
        transfers,
        grants,
        sexes: SEXES,
    })
    .into_response())
}

/// Papers grouped by kind, in the design's order: every kind that has
/// papers or that the checklist requires.
fn group_by_kind(view: &ChildView) -> Vec<KindGroup> {
    let required: Vec<DocKind> = view
        .checklist
        .present
        .iter()
        .chain(&view.checklist.missing)
        .copied()
        .collect();
    DocKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let documents: Vec<Document> = view
                .documents
                .iter()
                .filter(|d| d.kind == kind)
                .cloned()
                .collect();
            let is_required = required.contains(&kind);
            (is_required || !documents.is_empty()).then_some(KindGroup {
                kind,
                documents,
                required: is_required,
            })
        })
        .collect()
}

/// `POST /children/{id}`: saves the fields that changed.
pub async fn edit(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<RecordForm>,
) -> PageResult {
    let id: ChildId = v.id(&id)?;
    let saved = v
        .ask(&state, move |vault, who| {
            let current = vault.show_child(who, id, Purpose::Restoration)?;
            match f.patch(&current.child.record) {
                Err(bad) => Ok(Err(bad)),
                Ok(p) if p.is_empty() => Ok(Ok(())),
                Ok(p) => vault.edit_child(who, id, p).map(|_| Ok(())),
            }
        })
        .await?;
    saved.map_err(|BadField(m)| v.bad_form(m))?;
    Ok(Redirect::to(&format!("/children/{id}")).into_response())
}
