//! Retention: when a child's papers fall due for erasure, by the rules of
//! `policies/retention.toml` (per case state, optionally per document
//! kind), counted from the day the case entered its state. A report lists
//! every child or document with a rule over it and its due date; applying
//! erases what is due (crypto-erasure: `vault/erasure.rs`), each erasure
//! audited. Also the use case that records a case's state.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::access::Note;
use super::{Vault, VaultError};
use crate::config::ConfigError;
use crate::domain::{CaseState, ChildId, DocKind, DocumentId, Principal};
use crate::policy::Action;

const FILE: &str = "retention.toml";
const EMBEDDED: &str = include_str!("../../policies/retention.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    state: String,
    #[serde(default)]
    after_years: u32,
    #[serde(default)]
    after_days: u32,
    kinds: Option<Vec<String>>,
}

/// One retention rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRule {
    /// Its place in the file, from 1 (named in reports and the audit log).
    pub number: usize,
    pub state: CaseState,
    pub after_years: u32,
    pub after_days: u32,
    /// `None`: the whole record; else only documents of these kinds.
    pub kinds: Option<Vec<DocKind>>,
}

impl RetentionRule {
    fn due(&self, since: DateTime<Utc>) -> DateTime<Utc> {
        let years = chrono::Months::new(self.after_years.saturating_mul(12));
        since
            .checked_add_months(years)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            + Duration::days(self.after_days.into())
    }

    /// The name the audit log and the erasure record give it.
    pub fn label(&self) -> String {
        rule_label(self.number)
    }
}

/// The name of rule `number` in erasure records (`retention#N`).
fn rule_label(number: usize) -> String {
    format!("retention#{number}")
}

/// The rules of a node.
#[derive(Debug, Clone)]
pub struct RetentionRules(Vec<RetentionRule>);

impl RetentionRules {
    /// Reads `retention.toml` from `dir` (the built-in rules when `None`,
    /// or when the directory holds no such file).
    pub fn load(dir: Option<&Path>) -> Result<RetentionRules, ConfigError> {
        match dir.map(|d| d.join(FILE)).filter(|p| p.is_file()) {
            None => Self::parse(EMBEDDED, "embedded retention.toml"),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::new(format!("cannot read {}: {e}", path.display()))
                })?;
                Self::parse(&text, &path.display().to_string())
            }
        }
    }

    /// Parses the rules; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<RetentionRules, ConfigError> {
        let raw: RawRules =
            toml::from_str(text).map_err(|e| ConfigError::new(format!("{origin}: {e}")))?;
        let mut rules = Vec::new();
        for (i, r) in raw.rule.into_iter().enumerate() {
            let at = |e: String| ConfigError::new(format!("{origin}: rule {}: {e}", i + 1));
            let state: CaseState = r
                .state
                .parse()
                .map_err(|e: crate::domain::UnknownCaseState| at(e.to_string()))?;
            let kinds = r
                .kinds
                .map(|ks| {
                    ks.iter()
                        .map(|k| k.parse::<DocKind>().map_err(|e| at(e.to_string())))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            if kinds.as_ref().is_some_and(Vec::is_empty) {
                return Err(at(
                    "`kinds` is empty (leave it out to cover the whole record)".into(),
                ));
            }
            rules.push(RetentionRule {
                number: i + 1,
                state,
                after_years: r.after_years,
                after_days: r.after_days,
                kinds,
            });
        }
        Ok(RetentionRules(rules))
    }

    pub fn rules(&self) -> &[RetentionRule] {
        &self.0
    }
}

/// A child's case state, since when, and its documents with their kinds.
type CaseDocuments = (CaseState, DateTime<Utc>, Vec<(DocumentId, DocKind)>);

/// What a rule says of one child: when its papers fall due.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionItem {
    pub child_id: ChildId,
    pub state: CaseState,
    pub since: DateTime<Utc>,
    pub rule: usize,
    pub due: DateTime<Utc>,
    pub is_due: bool,
    /// The whole record, or only these documents.
    pub whole_record: bool,
    pub documents: Vec<DocumentId>,
}

/// What applying retention erased.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionApplied {
    pub children_erased: Vec<ChildId>,
    pub documents_erased: Vec<DocumentId>,
}

impl Vault {
    /// Records that child `id`'s case is now in `state`. Audited (the
    /// decision names the state).
    pub fn set_case_state(
        &self,
        actor: &Principal,
        id: ChildId,
        state: CaseState,
    ) -> Result<(), VaultError> {
        self.authorize_child(actor, Action::ChangeCaseState, id, Note::target(state))?;
        if !self.db.set_case_state(id, state, Utc::now())? {
            return Err(VaultError::UnknownChild(id.to_string()));
        }
        Ok(())
    }

    /// A child's case state and since when (the record's own readers).
    pub fn case_state(
        &self,
        actor: &Principal,
        id: ChildId,
    ) -> Result<(CaseState, DateTime<Utc>), VaultError> {
        self.authorize_child(actor, Action::ReadRecord, id, Note::default())?;
        self.db
            .case_state(id)?
            .ok_or_else(|| VaultError::UnknownChild(id.to_string()))
    }

    fn retention_rules(&self) -> Result<RetentionRules, VaultError> {
        Ok(RetentionRules::load(self.settings.policies_dir.as_deref())?)
    }

    /// Every child and document a retention rule covers, with its due date
    /// as of `now`, soonest first. Opaque ids only. Audited; for those who
    /// administer the node.
    pub fn retention_report(
        &self,
        actor: &Principal,
        now: DateTime<Utc>,
    ) -> Result<Vec<RetentionItem>, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target("retention-report"))?;
        self.retention_items(now)
    }

    fn retention_items(&self, now: DateTime<Utc>) -> Result<Vec<RetentionItem>, VaultError> {
        let rules = self.retention_rules()?;
        let mut children: BTreeMap<ChildId, CaseDocuments> = BTreeMap::new();
        for row in self.db.retention_rows()? {
            let entry = children
                .entry(row.child)
                .or_insert((row.state, row.since, Vec::new()));
            if let Some(doc) = row.document {
                entry.2.push(doc);
            }
        }
        let mut items = Vec::new();
        for (child, (state, since, docs)) in children {
            for rule in rules.rules().iter().filter(|r| r.state == state) {
                let due = rule.due(since);
                let (whole_record, documents) = match &rule.kinds {
                    None => (true, docs.iter().map(|(d, _)| *d).collect()),
                    Some(kinds) => (
                        false,
                        docs.iter()
                            .filter(|(_, k)| kinds.contains(k))
                            .map(|(d, _)| *d)
                            .collect::<Vec<_>>(),
                    ),
                };
                if !whole_record && documents.is_empty() {
                    continue;
                }
                items.push(RetentionItem {
                    child_id: child,
                    state,
                    since,
                    rule: rule.number,
                    due,
                    is_due: due <= now,
                    whole_record,
                    documents,
                });
            }
        }
        items.sort_by(|a, b| a.due.cmp(&b.due).then(a.child_id.cmp(&b.child_id)));
        Ok(items)
    }

    /// Erases everything due under the retention rules as of `now`: whole
    /// records (as `child erase` does, the rule named as the order) and
    /// single documents. Each erasure is audited under the rule's name.
    pub async fn apply_retention(
        &self,
        actor: &Principal,
        now: DateTime<Utc>,
    ) -> Result<RetentionApplied, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target("retention-apply"))?;
        let items = super::heavy::inline(|| self.retention_items(now))?;
        let mut applied = RetentionApplied {
            children_erased: Vec::new(),
            documents_erased: Vec::new(),
        };
        for item in items.into_iter().filter(|i| i.is_due) {
            if applied.children_erased.contains(&item.child_id) {
                continue;
            }
            let label = rule_label(item.rule);
            if item.whole_record {
                self.erase_child_as(actor, item.child_id, "retention period over", &label)
                    .await?;
                applied.children_erased.push(item.child_id);
            } else {
                // Audited before anything is erased, as a whole record is.
                for d in &item.documents {
                    self.record_event(
                        actor.label(),
                        actor.role_label(),
                        "retention_erase_document",
                        true,
                        Some(d.to_string()),
                    )?;
                }
                let keys = super::heavy::inline(|| {
                    self.db
                        .erase_documents(&item.documents, Utc::now(), &actor.label(), &label)
                })?;
                self.delete_payloads(&keys).await;
                applied.documents_erased.extend(item.documents);
            }
        }
        Ok(applied)
    }
}
