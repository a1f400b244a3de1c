//! The frame every page shares ([`Chrome`]: language, form token, who is
//! signed in, the menu and the asset URLs), rendering a template into a
//! response, and the pages for errors: a refusal in plain words, a page
//! that does not exist (a page the role may not see reads the same), a
//! post that did not come from our own form.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::assets;
use super::i18n::{Count, Tr};
use super::session::{page_language, Visitor};
use super::WebState;
use crate::domain::{
    CaseRecord, DocKind, InboxState, Language, OversightKind, Principal, Purpose, Role, TokenInfo,
    TransferState, TransferStep,
};
use crate::vault::{Checklist, ErrorClass, Vault, VaultError, WeakPassword};

/// One entry of the menu: where it goes and its message id.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

/// What every page's frame shows.
pub struct Chrome {
    pub tr: Tr,
    /// The form token (the session's, or before login the pre-login one).
    pub csrf: String,
    /// The message id of the page's `<title>`: never a name.
    pub title: &'static str,
    /// The signed-in user's name and role.
    pub user: Option<(String, Role)>,
    pub nav: Vec<NavItem>,
    pub css: String,
    pub js: String,
    pub icon: String,
}

impl Chrome {
    /// The frame of a page before login.
    pub fn anonymous(tr: Tr, csrf: String, title: &'static str) -> Chrome {
        Chrome {
            tr,
            csrf,
            title,
            user: None,
            nav: Vec::new(),
            css: assets::url("app.css"),
            js: assets::url("upload.js"),
            icon: assets::url("icon.svg"),
        }
    }

    /// The frame of a page for a signed-in visitor, with the menu of
    /// their role (where they work; what each page shows them is the
    /// policies' decision).
    pub fn signed_in(v: &Visitor) -> Chrome {
        let mut c = Chrome::anonymous(v.tr, v.csrf.clone(), "app-name");
        if let Principal::User(u) = &v.who {
            c.user = Some((u.name.clone(), u.role));
            c.nav = menu(u.role);
        }
        c
    }

    /// The same frame with another title.
    pub fn titled(mut self, title: &'static str) -> Chrome {
        self.title = title;
        self
    }

    /// The message `id` in the page's language.
    pub fn t(&self, id: impl AsRef<str>) -> String {
        self.tr.t(id)
    }

    /// Whether `l` is the page's language.
    pub fn is_lang(&self, l: &Language) -> bool {
        *l == self.tr.lang
    }

    /// Whether `k` is the kind chosen beforehand.
    pub fn is_chosen(&self, chosen: &Option<DocKind>, k: &DocKind) -> bool {
        *chosen == Some(*k)
    }

    /// A role's name.
    pub fn role_label(&self, role: &Role) -> String {
        self.tr.t(format!("role-{}", role.as_str()))
    }

    /// A language's own name.
    pub fn lang_name(&self, l: &Language) -> String {
        self.tr.t(format!("language-{}", l.code()))
    }

    /// A document kind's name.
    pub fn kind_label(&self, k: &DocKind) -> String {
        self.tr.t(format!("kind-{k}"))
    }

    /// A transfer state's name.
    pub fn state_label(&self, s: &TransferState) -> String {
        self.tr.t(format!("state-{s}"))
    }

    /// A purpose's name.
    pub fn purpose_label(&self, p: &Purpose) -> String {
        self.tr.t(format!("purpose-{}", p.as_str()))
    }

    /// A recorded sex's name.
    pub fn sex_label(&self, s: impl AsRef<str>) -> String {
        self.tr.t(format!("sex-{}", s.as_ref()))
    }

    /// "6 of 8 papers".
    pub fn papers(&self, c: &Checklist) -> String {
        let have = c.present.len() as u64;
        let of = have + c.missing.len() as u64;
        self.tr.args(
            "papers-present",
            &[("have", self.tr.num(have)), ("of", self.tr.num(of))],
        )
    }

    /// The child's age in years, from the date of birth or the estimate.
    pub fn age_of(&self, r: &CaseRecord) -> Option<String> {
        let today = chrono::Utc::now().date_naive();
        let years = match (r.date_of_birth, r.estimated_age) {
            (Some(born), _) => today.years_since(born)? as u64,
            (None, Some(a)) => a as u64,
            (None, None) => return None,
        };
        Some(self.tr.count("age-years", years))
    }

    /// A day, DD-MM-YYYY.
    pub fn day(&self, d: &chrono::NaiveDate) -> String {
        self.tr.day(*d)
    }

    /// A moment in IST.
    pub fn time(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        self.tr.time(t)
    }

    /// A size in bytes, as KB or MB with Indian grouping.
    pub fn size(&self, bytes: impl Count) -> String {
        let b = bytes.count();
        if b >= 1024 * 1024 {
            let tenths = b * 10 / (1024 * 1024);
            self.tr.args(
                "size-mb",
                &[("n", format!("{}.{}", self.tr.num(tenths / 10), tenths % 10))],
            )
        } else {
            self.tr.arg("size-kb", "n", self.tr.num(b.div_ceil(1024)))
        }
    }

    /// The form value of a recorded sex (`female`…).
    pub fn sex_id(&self, s: &crate::domain::Sex) -> &'static str {
        s.as_str()
    }

    /// Whether the record's sex is `s`.
    pub fn sex_is(&self, r: &CaseRecord, s: &str) -> bool {
        r.sex.is_some_and(|x| x.as_str() == s)
    }

    /// A day as a date input's value (YYYY-MM-DD), or nothing.
    pub fn iso(&self, d: &Option<chrono::NaiveDate>) -> String {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }

    /// A number input's value, or nothing.
    pub fn num_opt(&self, n: &Option<u8>) -> String {
        n.map(|n| n.to_string()).unwrap_or_default()
    }

    /// A text input's value, or nothing.
    pub fn opt<'a>(&self, s: Option<&'a str>) -> &'a str {
        s.unwrap_or("")
    }

    /// The message id of a transfer step.
    pub fn step_id(&self, s: &TransferStep) -> String {
        match s {
            TransferStep::Submit {
                override_reason: Some(_),
            } => "step-override".into(),
            other => format!("step-{}", other.name()),
        }
    }

    /// What a step recorded: a reason, or the restoration order number.
    pub fn step_detail(&self, s: &TransferStep) -> Option<String> {
        match s {
            TransferStep::Submit {
                override_reason: Some(r),
            }
            | TransferStep::Reject { reason: r }
            | TransferStep::Refuse { reason: r } => Some(r.clone()),
            TransferStep::Approve { order_number } => {
                Some(self.tr.arg("transfer-order", "n", order_number))
            }
            _ => None,
        }
    }

    /// The message id of an inbox state.
    pub fn inbox_state_id(&self, s: &InboxState) -> String {
        format!("inbox-state-{}", s.as_str())
    }

    /// The message id of an audited action (one of those a child's
    /// access history holds; anything else reads as "other").
    pub fn action_id(&self, action: &str) -> &'static str {
        match action {
            "read_document" => "action-read_document",
            "read_record" => "action-read_record",
            "add_document" => "action-add_document",
            "edit_child" => "action-edit_child",
            "create_child" => "action-create_child",
            "move_child" => "action-move_child",
            "grant_access" => "action-grant_access",
            "create_transfer" => "action-create_transfer",
            "approve_transfer" => "action-approve_transfer",
            "read_access_log" => "action-read_access_log",
            _ => "action-other",
        }
    }

    /// The message id of a token's state.
    pub fn token_state_id(&self, t: &TokenInfo) -> String {
        format!("token-{}", t.state(chrono::Utc::now()))
    }

    /// The message id of a role named by its id.
    pub fn role_id(&self, role: &str) -> String {
        format!("role-{role}")
    }

    /// The message id of an oversight event's kind.
    pub fn oversight_id(&self, k: &OversightKind) -> String {
        format!("oversight-{}", k.as_str())
    }

    /// "Verified up to checkpoint N at T".
    pub fn audit_ok(&self, checkpoint: impl Count, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.tr.args(
            "status-audit-ok",
            &[("n", self.tr.num(checkpoint)), ("at", self.tr.time(at))],
        )
    }

    /// "F free of T".
    pub fn disk_free(&self, free: impl Count, total: impl Count) -> String {
        self.tr.args(
            "status-disk-free",
            &[("free", self.size(free)), ("total", self.size(total))],
        )
    }

    /// "Ends in 12 days" (or "ended") for a moment ahead.
    pub fn ends_in(&self, until: &chrono::DateTime<chrono::Utc>) -> String {
        let left = *until - chrono::Utc::now();
        if left <= chrono::Duration::zero() {
            self.tr.t("grant-ended")
        } else {
            self.tr
                .count("grant-ends-in", left.num_days().max(0) as u64)
        }
    }
}

fn item(href: &'static str, label: &'static str) -> NavItem {
    NavItem { href, label }
}

/// The menu of each role.
fn menu(role: Role) -> Vec<NavItem> {
    let mut nav = match role {
        Role::ShelterStaff => vec![
            item("/children", "nav-children"),
            item("/children/new", "nav-add-child"),
            item("/transfers", "nav-transfers"),
        ],
        Role::CwcMember => vec![
            item("/transfers", "nav-waiting"),
            item("/children", "nav-district-children"),
        ],
        Role::SwdOfficer => vec![
            item("/inbox", "nav-inbox"),
            item("/children", "nav-transferred-in"),
            item("/grants", "nav-grants"),
        ],
        Role::SupportPerson => vec![item("/shared", "nav-shared")],
        Role::DcpuOfficer => vec![
            item("/district", "nav-district"),
            item("/children", "nav-district-children"),
        ],
        Role::Admin => vec![
            item("/admin/users", "nav-users"),
            item("/admin/departments", "nav-departments"),
            item("/admin/status", "nav-status"),
        ],
    };
    nav.push(item("/account", "nav-account"));
    nav
}

/// A rendered page.
pub struct Page<T>(pub T);

impl<T: Template> Page<T> {
    /// The page with another status than 200.
    pub fn with_status(self, status: StatusCode) -> Response {
        match self.0.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "a page failed to render");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        self.with_status(StatusCode::OK)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    /// Message id of what happened.
    message: &'static str,
    /// Translated details (missing kinds, a field's name), shown as a list.
    details: Vec<String>,
}

/// The error page for `message`.
pub fn error_page(
    c: Chrome,
    status: StatusCode,
    message: &'static str,
    details: Vec<String>,
) -> Response {
    Page(ErrorPage {
        c: c.titled("error-title"),
        message,
        details,
    })
    .with_status(status)
}

/// The message id of a refused new password.
pub fn weak_password_message(w: &WeakPassword) -> &'static str {
    match w {
        WeakPassword::TooShort => "weak-too-short",
        WeakPassword::TooLong => "weak-too-long",
        WeakPassword::Repeated => "weak-repeated",
        WeakPassword::Common => "weak-common",
        WeakPassword::Unchanged => "weak-unchanged",
    }
}

/// What a vault refusal means for the person at the page: a status, a
/// message id and translated details.
pub fn explain(tr: Tr, e: &VaultError) -> (StatusCode, &'static str, Vec<String>) {
    use StatusCode as S;
    match e {
        VaultError::UnknownChild(_)
        | VaultError::UnknownDocument(_)
        | VaultError::UnknownTransfer(_)
        | VaultError::UnknownInboxItem(_)
        | VaultError::UnknownGrant(_)
        | VaultError::UnknownToken(_)
        | VaultError::UnknownUser(_)
        | VaultError::Denied(_) => (S::NOT_FOUND, "error-not-found", vec![]),
        VaultError::Conflict(_) => (S::CONFLICT, "error-conflict", vec![]),
        VaultError::InvalidField { field, .. } => (
            S::UNPROCESSABLE_ENTITY,
            "error-invalid-field",
            vec![tr.t(format!("field-{field}"))],
        ),
        VaultError::ReasonRequired(_) => (S::UNPROCESSABLE_ENTITY, "error-reason-required", vec![]),
        VaultError::ChecklistIncomplete { missing, .. } => (
            S::UNPROCESSABLE_ENTITY,
            "error-checklist-incomplete",
            missing.iter().map(|k| tr.t(format!("kind-{k}"))).collect(),
        ),
        VaultError::UnknownDepartment(_) => {
            (S::UNPROCESSABLE_ENTITY, "error-unknown-department", vec![])
        }
        VaultError::UnknownDistrict => (S::UNPROCESSABLE_ENTITY, "error-unknown-district", vec![]),
        VaultError::PlacementByMoveOnly => {
            (S::UNPROCESSABLE_ENTITY, "error-placement-by-move", vec![])
        }
        VaultError::UserExists(_) => (S::CONFLICT, "error-user-exists", vec![]),
        VaultError::InvalidUserName => (S::UNPROCESSABLE_ENTITY, "error-user-name", vec![]),
        VaultError::WeakPassword(w) => (S::UNPROCESSABLE_ENTITY, weak_password_message(w), vec![]),
        VaultError::SeparationOfDuties(_) => (S::FORBIDDEN, "error-separation-of-duties", vec![]),
        VaultError::GrantPeriod { .. } => (S::UNPROCESSABLE_ENTITY, "error-grant-period", vec![]),
        VaultError::GrantWithoutKinds => (S::UNPROCESSABLE_ENTITY, "error-grant-kinds", vec![]),
        VaultError::NotASupportPerson { .. } => {
            (S::UNPROCESSABLE_ENTITY, "error-not-support-person", vec![])
        }
        VaultError::InvalidCard(_) | VaultError::DepartmentKeysChanged(_) => {
            (S::UNPROCESSABLE_ENTITY, "error-card", vec![])
        }
        VaultError::Throttled { retry_after_secs } => (
            S::TOO_MANY_REQUESTS,
            "error-throttled",
            vec![tr.arg("seconds", "n", retry_after_secs)],
        ),
        VaultError::Intake(_) if e.is_over_size_limit() => {
            (S::PAYLOAD_TOO_LARGE, "upload-too-large", vec![])
        }
        VaultError::Intake(i) => (
            S::UNPROCESSABLE_ENTITY,
            super::documents::refusal(i),
            vec![],
        ),
        _ => match e.class() {
            ErrorClass::Refused => (S::UNPROCESSABLE_ENTITY, "error-refused", vec![]),
            ErrorClass::Integrity => (S::INTERNAL_SERVER_ERROR, "error-integrity", vec![]),
            _ => (S::INTERNAL_SERVER_ERROR, "error-internal", vec![]),
        },
    }
}

/// The error page of a vault refusal or failure (an unauthenticated one
/// goes to the login page). Failures are logged by kind, never with
/// names.
pub fn failure(tr: Tr, e: VaultError) -> Response {
    if matches!(e, VaultError::Unauthenticated) {
        return Redirect::to("/login?ended=1").into_response();
    }
    let (status, message, details) = explain(tr, &e);
    if status.is_server_error() {
        tracing::error!(error = %e, "a page failed");
    }
    error_page(
        Chrome::anonymous(tr, String::new(), "error-title"),
        status,
        message,
        details,
    )
}

/// A page, or the error page that took its place.
pub type PageResult = Result<Response, Response>;

impl Visitor {
    /// Runs a use case as this visitor on the blocking pool; a refusal
    /// becomes its error page.
    pub async fn ask<T: Send + 'static>(
        &self,
        state: &WebState,
        use_case: impl FnOnce(&Vault, &Principal) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, Response> {
        let who = self.who.clone();
        state
            .run(move |vault| use_case(vault, &who))
            .await
            .map_err(|e| self.failure(e))
    }

    /// [`Visitor::ask`] for heavy work (Argon2, a whole-log read), on the
    /// vault's low-priority pool.
    pub async fn ask_heavy<T: Send + 'static>(
        &self,
        state: &WebState,
        use_case: impl FnOnce(&Vault, &Principal) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, Response> {
        let who = self.who.clone();
        state
            .run_heavy(move |vault| use_case(vault, &who))
            .await
            .map_err(|e| self.failure(e))
    }

    /// An id from a path or a form; a malformed one reads as a page that
    /// does not exist.
    // The error is the page itself, returned at once as the handler's answer.
    #[allow(clippy::result_large_err)]
    pub fn id<T: std::str::FromStr>(&self, s: &str) -> Result<T, Response> {
        s.trim().parse().map_err(|_| self.not_found())
    }

    /// The error page of a vault refusal, in this visitor's frame.
    pub fn failure(&self, e: VaultError) -> Response {
        if matches!(e, VaultError::Unauthenticated) {
            return Redirect::to("/login?ended=1").into_response();
        }
        let (status, message, details) = explain(self.tr, &e);
        if status.is_server_error() {
            tracing::error!(error = %e, "a page failed");
        }
        error_page(self.chrome(), status, message, details)
    }

    /// A page of this visitor's that does not exist.
    pub fn not_found(&self) -> Response {
        error_page(
            self.chrome(),
            StatusCode::NOT_FOUND,
            "error-not-found",
            vec![],
        )
    }

    /// A form that came back with something missing or wrong.
    pub fn bad_form(&self, message: &'static str) -> Response {
        error_page(
            self.chrome(),
            StatusCode::UNPROCESSABLE_ENTITY,
            message,
            vec![],
        )
    }
}

/// A post refused by the CSRF check.
pub fn refused_post(lang: Language) -> Response {
    error_page(
        Chrome::anonymous(Tr::new(lang), String::new(), "error-title"),
        StatusCode::FORBIDDEN,
        "error-foreign-post",
        vec![],
    )
}

/// Any path that is no page.
pub async fn not_found(headers: axum::http::HeaderMap) -> Response {
    error_page(
        Chrome::anonymous(
            Tr::new(page_language(&headers)),
            String::new(),
            "error-title",
        ),
        StatusCode::NOT_FOUND,
        "error-not-found",
        vec![],
    )
}

/// `GET /`: the first page of the visitor's role.
pub async fn home(v: Visitor) -> Response {
    let to = match &v.who {
        Principal::User(u) => match u.role {
            Role::ShelterStaff => "/children",
            Role::CwcMember => "/transfers",
            Role::SwdOfficer => "/inbox",
            Role::SupportPerson => "/shared",
            Role::DcpuOfficer => "/district",
            Role::Admin => "/admin/users",
        },
        Principal::LocalOperator => "/account",
    };
    Redirect::to(to).into_response()
}
