//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! served at `/api/v1/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, auth, children, documents, health, inbox, transfers};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "handover",
        description = "Encrypted vault and signed hand-over of child-protection case papers between state departments. \
Every error is application/problem+json with a stable `type`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        health::healthz, health::readyz, health::metrics,
        auth::login,
        children::add, children::list, children::show, children::edit, children::move_child,
        children::checklist,
        children::documents, children::upload, children::access_log,
        documents::metadata, documents::content,
        transfers::create, transfers::list, transfers::show, transfers::submit, transfers::approve,
        transfers::reject, transfers::revoke, transfers::send, transfers::bundle,
        inbox::receive, inbox::list, inbox::accept, inbox::refuse, inbox::receipt,
        admin::add_user, admin::list_users, admin::change_user, admin::disable_user, admin::enable_user,
        admin::set_password, admin::status,
        admin::create_token, admin::list_tokens, admin::revoke_token,
        admin::add_grant, admin::list_grants, admin::revoke_grant,
        admin::list_departments, admin::own_card, admin::add_department,
    ),
    components(schemas(super::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
