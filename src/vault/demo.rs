//! `serve --demo`: a node a newcomer can click through in a minute. One
//! user of each role (their one-time passwords are returned to be shown),
//! and a few synthetic children with synthetic one-page PDF scans. The
//! node is marked as a demo node (a node fact) and every demo child's
//! name says it is synthetic. Refused on a node that already holds
//! children or users of its own: demo data never mixes with real data.

use base64ct::{Base64UrlUnpadded, Encoding};
use rand::RngCore;
use secrecy::SecretString;

use super::{NewDocument, Vault, VaultError};
use crate::domain::{CaseRecord, DocKind, Principal, Role, Scope, Sex};
use crate::store::ChildFilter;

const DEMO_KEY: &str = "demo";
/// The demo's shelter home and district.
pub const DEMO_INSTITUTION: &str = "cci-demo-01";
pub const DEMO_DISTRICT: &str = "rajasthan/jaipur";

/// One demo account, with its one-time password (shown once).
#[derive(Debug)]
pub struct DemoUser {
    pub name: String,
    pub role: Role,
    pub password: SecretString,
}

/// A one-page PDF whose only text is `line`: synthetic, and valid enough
/// for any viewer (header, objects, cross-reference table, trailer).
pub fn synthetic_pdf(line: &str) -> Vec<u8> {
    let text: String = line
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " -.,:".contains(*c))
        .collect();
    let stream = format!("BT /F1 18 Tf 40 760 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

impl Vault {
    /// Whether this node was set up by `serve --demo`.
    pub fn is_demo(&self) -> Result<bool, VaultError> {
        Ok(self.db.node_value(DEMO_KEY)?.as_deref() == Some("true"))
    }

    /// Fills a new node with demo users and synthetic children; returns
    /// the users with their one-time passwords. Refused when the node
    /// holds children, or users besides the first admin.
    pub async fn set_up_demo(&self) -> Result<Vec<DemoUser>, VaultError> {
        let operator = Principal::LocalOperator;
        let users = self.list_users(&operator)?;
        let any_child = !self
            .db
            .children_page(&ChildFilter::All, None, None, 1)?
            .is_empty();
        if any_child || users.iter().any(|u| u.name != "admin") {
            return Err(VaultError::HoldsRealData);
        }
        self.db.set_node_value(DEMO_KEY, "true")?;
        let department = self.card().id.clone();
        let accounts = [
            (
                "demo-staff",
                Role::ShelterStaff,
                Scope::Institution(DEMO_INSTITUTION.into()),
            ),
            (
                "demo-cwc",
                Role::CwcMember,
                Scope::District(DEMO_DISTRICT.into()),
            ),
            (
                "demo-dcpu",
                Role::DcpuOfficer,
                Scope::District(DEMO_DISTRICT.into()),
            ),
            (
                "demo-swd",
                Role::SwdOfficer,
                Scope::Department(department.clone()),
            ),
            (
                "demo-support",
                Role::SupportPerson,
                Scope::Department(department.clone()),
            ),
            ("demo-admin", Role::Admin, Scope::Department(department)),
        ];
        let mut out = Vec::new();
        for (name, role, scope) in accounts {
            let mut secret = [0u8; 12];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let password = SecretString::from(Base64UrlUnpadded::encode_string(&secret));
            self.add_user(&operator, name, role, scope, Some(&password))?;
            out.push(DemoUser {
                name: name.into(),
                role,
                password,
            });
        }
        let children: [(&str, Sex, u8, &[DocKind]); 3] = [
            (
                "Demo Child One (synthetic)",
                Sex::Female,
                13,
                &[
                    DocKind::Fir,
                    DocKind::MedicalReport,
                    DocKind::Identity,
                    DocKind::CarePlan,
                ],
            ),
            (
                "Demo Child Two (synthetic)",
                Sex::Male,
                11,
                &[
                    DocKind::Fir,
                    DocKind::MedicalReport,
                    DocKind::FitToTravel,
                    DocKind::ReleaseCertificate,
                    DocKind::CwcOrder,
                    DocKind::SocialInvestigation,
                    DocKind::CarePlan,
                    DocKind::Identity,
                ],
            ),
            (
                "Demo Child Three (synthetic)",
                Sex::Female,
                15,
                &[DocKind::Fir],
            ),
        ];
        for (name, sex, age, kinds) in children {
            let child = self.add_child(
                &operator,
                CaseRecord {
                    name: name.into(),
                    sex: Some(sex),
                    estimated_age: Some(age),
                    home_state: Some("Bihar".into()),
                    institution: Some(DEMO_INSTITUTION.into()),
                    district: Some(DEMO_DISTRICT.into()),
                    notes: Some("Demo data: not a real child.".into()),
                    ..CaseRecord::default()
                },
            )?;
            for kind in kinds {
                let pdf = synthetic_pdf(&format!("DEMO - synthetic {kind} - not a real document"));
                let new = NewDocument {
                    kind: *kind,
                    title: None,
                    file_name: None,
                    declared_size: Some(pdf.len() as u64),
                };
                self.put_document(&operator, child, new, Box::new(std::io::Cursor::new(pdf)))
                    .await?;
            }
        }
        tracing::info!("demo users and synthetic children added");
        Ok(out)
    }
}
