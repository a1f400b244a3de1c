//! `child add|edit|list|show`.

use super::output::CliResult;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::output::{open, print_json};
use crate::config::Settings;
use crate::domain::text::escape_for_terminal as esc;
use crate::domain::{CaseRecord, CaseRecordPatch, ChildId, Sex};
use crate::vault::Purpose;

#[derive(Debug, Subcommand)]
pub enum ChildCommand {
    /// Take a child in; prints the new child id
    Add(AddArgs),
    /// Change fields of a child's case record (not its placement: see `move`)
    Edit(EditArgs),
    /// Move a child to another institution or district, with a reason (the
    /// CWC or DCPU of its district; an SWD officer for a child transferred in)
    Move {
        id: ChildId,
        /// The new institution id
        #[arg(long)]
        institution: Option<String>,
        /// The new district, STATE/DISTRICT from the node's list
        #[arg(long)]
        district: Option<String>,
        /// Why (kept encrypted with the move, never in the audit log)
        #[arg(long)]
        reason: String,
    },
    /// Erase a child's record and documents, on an order (the CWC of the
    /// child's district): their documents' keys are destroyed, so every
    /// copy becomes unreadable (backups once pruned); ids and the audit
    /// trail remain
    Erase {
        id: ChildId,
        /// Why (kept encrypted with the erasure, never in the audit log)
        #[arg(long)]
        reason: String,
        /// The number of the order that directs the erasure
        #[arg(long, value_name = "NUMBER")]
        order: String,
        #[arg(long)]
        json: bool,
    },
    /// Record where a child's case stands (in_care, transferred, restored,
    /// closed); retention is counted from it. Without STATE, print it
    State {
        id: ChildId,
        state: Option<crate::domain::CaseState>,
    },
    /// List the children on this node
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a child's record, documents and checklist
    Show {
        id: ChildId,
        /// Checklist to evaluate: restoration, compensation_claim, school_enrolment
        #[arg(long, default_value = "restoration")]
        purpose: Purpose,
        #[arg(long)]
        json: bool,
    },
}

/// Case record fields; all optional here (the name is required by `add`).
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// female, male, transgender or unknown
    #[arg(long)]
    sex: Option<Sex>,
    /// Date of birth, YYYY-MM-DD
    #[arg(long = "dob", value_name = "DATE")]
    date_of_birth: Option<NaiveDate>,
    /// Estimated age in years, when the date of birth is unknown
    #[arg(long = "age", value_name = "YEARS")]
    estimated_age: Option<u8>,
    #[arg(long)]
    home_state: Option<String>,
    #[arg(long)]
    home_district: Option<String>,
    /// Id of the shelter home (child care institution)
    #[arg(long, value_name = "ID")]
    institution: Option<String>,
    /// District where the child is placed, STATE/DISTRICT (e.g. rajasthan/jaipur)
    #[arg(long, value_name = "STATE/DISTRICT")]
    district: Option<String>,
    /// YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    rescue_date: Option<NaiveDate>,
    #[arg(long)]
    rescue_place: Option<String>,
    /// CWC case number
    #[arg(long = "cwc-case", value_name = "NUMBER")]
    cwc_case_number: Option<String>,
    /// A language the child speaks (repeat for several)
    #[arg(long = "language", value_name = "LANG")]
    languages: Vec<String>,
    /// Free notes
    #[arg(long)]
    notes: Option<String>,
}

impl RecordArgs {
    fn into_patch(self, name: Option<String>) -> CaseRecordPatch {
        CaseRecordPatch {
            name,
            sex: self.sex,
            date_of_birth: self.date_of_birth,
            estimated_age: self.estimated_age,
            home_state: self.home_state,
            home_district: self.home_district,
            institution: self.institution,
            district: self.district,
            rescue_date: self.rescue_date,
            rescue_place: self.rescue_place,
            cwc_case_number: self.cwc_case_number,
            languages: (!self.languages.is_empty()).then_some(self.languages),
            notes: self.notes,
        }
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The child's name
    #[arg(long)]
    name: String,
    #[command(flatten)]
    record: RecordArgs,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    id: ChildId,
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    record: RecordArgs,
}

pub async fn run(settings: Settings, cmd: ChildCommand) -> CliResult<()> {
    let vault = open(settings).await?;
    let actor = super::output::actor(&vault)?;
    match cmd {
        ChildCommand::Add(args) => {
            let mut record = CaseRecord::default();
            args.record.into_patch(Some(args.name)).apply(&mut record);
            let id = vault.add_child(&actor, record)?;
            println!("{id}");
        }
        ChildCommand::Edit(args) => {
            let child = vault.edit_child(&actor, args.id, args.record.into_patch(args.name))?;
            eprintln!("updated child {}", child.id);
        }
        ChildCommand::Move {
            id,
            institution,
            district,
            reason,
        } => {
            vault.move_child(&actor, id, institution, district, &reason)?;
            eprintln!("moved child {id}");
        }
        ChildCommand::Erase {
            id,
            reason,
            order,
            json,
        } => {
            let erased = vault.erase_child(&actor, id, &reason, &order).await?;
            if json {
                print_json(&erased)?;
            } else {
                eprintln!(
                    "erased child {id}: the keys of {} document(s) destroyed; backups taken before now still hold them until pruned (`handover backup list`)",
                    erased.documents
                );
            }
        }
        ChildCommand::State { id, state } => match state {
            Some(state) => {
                vault.set_case_state(&actor, id, state)?;
                eprintln!("child {id}: case {state}");
            }
            None => {
                let (state, since) = vault.case_state(&actor, id)?;
                println!("{state}\t{}", since.to_rfc3339());
            }
        },
        ChildCommand::List { json } => {
            let children = vault.list_children(&actor)?;
            if json {
                print_json(&children)?;
            } else {
                for c in children {
                    println!(
                        "{}\t{}\t{}\t{}",
                        c.id,
                        esc(&c.record.name),
                        c.record.institution.as_deref().unwrap_or("-"),
                        esc(c.record.home_state.as_deref().unwrap_or("-"))
                    );
                }
            }
        }
        ChildCommand::Show { id, purpose, json } => {
            let view = vault.show_child(&actor, id, purpose)?;
            if json {
                print_json(&view)?;
            } else {
                let r = &view.child.record;
                println!("id:            {}", view.child.id);
                println!("name:          {}", esc(&r.name));
                // Text from a record never reaches the terminal raw.
                let opt = |v: Option<String>| esc(&v.unwrap_or_else(|| "-".into()));
                println!(
                    "sex:           {}",
                    opt(r.sex.map(|s| format!("{s:?}").to_lowercase()))
                );
                println!(
                    "date of birth: {}",
                    opt(r.date_of_birth.map(|d| d.to_string()))
                );
                println!(
                    "estimated age: {}",
                    opt(r.estimated_age.map(|a| a.to_string()))
                );
                println!(
                    "home:          {} / {}",
                    opt(r.home_state.clone()),
                    opt(r.home_district.clone())
                );
                println!("institution:   {}", opt(r.institution.clone()));
                println!(
                    "rescued:       {} at {}",
                    opt(r.rescue_date.map(|d| d.to_string())),
                    opt(r.rescue_place.clone())
                );
                println!("CWC case:      {}", opt(r.cwc_case_number.clone()));
                println!(
                    "languages:     {}",
                    if r.languages.is_empty() {
                        "-".into()
                    } else {
                        esc(&r.languages.join(", "))
                    }
                );
                println!("notes:         {}", opt(r.notes.clone()));
                println!("documents:");
                for d in &view.documents {
                    println!(
                        "  {}\t{}\t{}\t{} bytes\t{}",
                        d.id,
                        d.kind,
                        esc(d.title.as_deref().unwrap_or("-")),
                        d.size,
                        d.media_type
                    );
                }
                let c = &view.checklist;
                println!(
                    "{} checklist: {}",
                    c.purpose,
                    if c.is_complete() {
                        "complete"
                    } else {
                        "incomplete"
                    }
                );
                let names = |ks: &[crate::domain::DocKind]| {
                    ks.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                };
                println!("  present: {}", names(&c.present));
                println!("  missing: {}", names(&c.missing));
            }
        }
    }
    Ok(())
}
