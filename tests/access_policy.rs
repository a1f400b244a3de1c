//! Who may do what: a table of role × action × own/other scope, grants
//! (live, expired, revoked, for another child or kind), disabled users and
//! revoked tokens, run in process against a real node (Cedar policies,
//! SQLCipher, audit log). Refusals about children and documents must read
//! exactly like "no such id".

mod common;

use std::io::Cursor;
use std::time::Duration;

use chrono::Utc;
use common::bundles::{child_with, create, demo_node, two_nodes, DEST};
use common::{created_id, pdf};
use handover::config::Settings;
use handover::domain::{CaseRecord, ChildId, DocKind, DocumentId, Principal, Purpose, Role, Scope};
use handover::vault::{NewDocument, Vault, VaultError, WeakPassword};

struct World {
    vault: Vault,
    /// Child placed at institution cci-a, district bihar/patna.
    a: ChildId,
    a_fir: DocumentId,
    a_medical: DocumentId,
    /// Child placed at institution cci-b, district bihar/gaya.
    b: ChildId,
    b_fir: DocumentId,
    /// Child transferred in from rj-dcpu-jaipur.
    t: ChildId,
    t_fir: DocumentId,
    t_medical: DocumentId,
}

fn doc_id(vault_docs: &[handover::domain::Document], kind: DocKind) -> DocumentId {
    vault_docs.iter().find(|d| d.kind == kind).unwrap().id
}

async fn put(vault: &Vault, child: ChildId, kind: DocKind) -> DocumentId {
    let bytes = pdf(2_000, kind.as_str());
    vault
        .put_document(
            &Principal::LocalOperator,
            child,
            NewDocument {
                kind,
                title: None,
                file_name: None,
                declared_size: Some(bytes.len() as u64),
            },
            Box::new(Cursor::new(bytes)),
        )
        .await
        .unwrap()
        .id
}

async fn local_child(vault: &Vault, institution: &str, district: &str) -> ChildId {
    let record = CaseRecord {
        name: "Zqxmarker Child".into(),
        institution: Some(institution.into()),
        district: Some(district.into()),
        ..CaseRecord::default()
    };
    vault.add_child(&Principal::LocalOperator, record).unwrap()
}

async fn open_vault(node: &common::Node) -> Vault {
    let settings = Settings {
        data_dir: node.data.clone(),
        ..Settings::default()
    };
    Vault::open(settings, || None, false).await.unwrap()
}

/// The destination node with one imported child and two local ones.
async fn world(dir: &common::Node) -> World {
    let vault = open_vault(dir).await;
    let a = local_child(&vault, "cci-a", "bihar/patna").await;
    let a_fir = put(&vault, a, DocKind::Fir).await;
    let a_medical = put(&vault, a, DocKind::MedicalReport).await;
    let b = local_child(&vault, "cci-b", "bihar/gaya").await;
    let b_fir = put(&vault, b, DocKind::Fir).await;
    let t = vault.list_children(&Principal::LocalOperator).unwrap();
    let t = t.iter().find(|c| c.origin.is_some()).unwrap().id;
    let docs = vault.list_documents(&Principal::LocalOperator, t).unwrap();
    World {
        t_fir: doc_id(&docs, DocKind::Fir),
        t_medical: doc_id(&docs, DocKind::MedicalReport),
        vault,
        a,
        a_fir,
        a_medical,
        b,
        b_fir,
        t,
    }
}

async fn user(vault: &Vault, name: &str, role: Role, scope: &str) -> Principal {
    let scope: Scope = scope.parse().unwrap();
    vault
        .add_user(&Principal::LocalOperator, name, role, scope, None)
        .unwrap();
    let (_, token) = vault
        .create_token(&Principal::LocalOperator, name, Duration::from_secs(3600))
        .unwrap();
    use secrecy::ExposeSecret;
    vault.authenticate_token(token.expose_secret()).unwrap()
}

#[derive(Debug, Clone, Copy)]
enum Act {
    List,
    ReadRecord(Target),
    ReadDoc(Doc),
    AddDoc(Target),
    CreateChild(&'static str, &'static str),
    EditChild(Target),
    Grant(Target),
    AccessLog(Target),
    Administer,
    ReceiveTransfer,
    /// Move a child to where it is (institution unchanged), or, for the
    /// transferred-in child, place it at a local home.
    Move(Target),
    /// Make an API token for the named user.
    MintToken(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Target {
    A,
    B,
    T,
}

#[derive(Debug, Clone, Copy)]
enum Doc {
    AFir,
    AMedical,
    BFir,
    TFir,
    TMedical,
}

impl World {
    fn child(&self, t: Target) -> ChildId {
        match t {
            Target::A => self.a,
            Target::B => self.b,
            Target::T => self.t,
        }
    }
    fn doc(&self, d: Doc) -> DocumentId {
        match d {
            Doc::AFir => self.a_fir,
            Doc::AMedical => self.a_medical,
            Doc::BFir => self.b_fir,
            Doc::TFir => self.t_fir,
            Doc::TMedical => self.t_medical,
        }
    }

    /// Runs one act; Ok(true) allowed, Ok(false) refused (with the
    /// refusal checked to be the right kind of error).
    async fn run(&self, who: &Principal, act: Act) -> bool {
        let v = &self.vault;
        let r: Result<(), VaultError> = match act {
            Act::List => v.list_children(who).map(|_| ()),
            Act::ReadRecord(t) => v
                .show_child(who, self.child(t), Purpose::Restoration)
                .map(|_| ()),
            Act::ReadDoc(d) => {
                let sink = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                let r = v
                    .read_document(who, self.doc(d), Box::new(SharedSink(sink.clone())))
                    .await;
                if r.is_err() {
                    assert!(
                        sink.lock().unwrap().is_empty(),
                        "a refused read returned bytes"
                    );
                }
                r.map(|_| ())
            }
            Act::AddDoc(t) => {
                let bytes = pdf(1_000, "added");
                v.put_document(
                    who,
                    self.child(t),
                    NewDocument {
                        kind: DocKind::CarePlan,
                        title: None,
                        file_name: None,
                        declared_size: None,
                    },
                    Box::new(Cursor::new(bytes)),
                )
                .await
                .map(|_| ())
            }
            Act::CreateChild(institution, district) => {
                let record = CaseRecord {
                    name: "New".into(),
                    institution: Some(institution.into()),
                    district: Some(district.into()),
                    ..CaseRecord::default()
                };
                v.add_child(who, record).map(|_| ())
            }
            Act::EditChild(t) => {
                let patch = handover::domain::CaseRecordPatch {
                    notes: Some("edited".into()),
                    ..Default::default()
                };
                v.edit_child(who, self.child(t), patch).map(|_| ())
            }
            Act::Grant(t) => v
                .add_grant(
                    who,
                    "ngo-spare",
                    self.child(t),
                    vec![DocKind::Fir],
                    Purpose::CompensationClaim,
                    Utc::now() + chrono::Duration::days(10),
                )
                .map(|_| ()),
            Act::AccessLog(t) => v.access_log(who, self.child(t)).map(|_| ()),
            Act::Administer => v.list_users(who).map(|_| ()),
            Act::Move(t) => {
                let id = self.child(t);
                let here = v
                    .show_child(&Principal::LocalOperator, id, Purpose::Restoration)
                    .unwrap()
                    .child
                    .record
                    .institution
                    .unwrap_or_else(|| "swd-home-1".into());
                v.move_child(who, id, Some(here), None, "table case")
                    .map(|_| ())
            }
            Act::MintToken(name) => v
                .create_token(who, name, Duration::from_secs(60))
                .map(|_| ()),
            Act::ReceiveTransfer => {
                // Opening a bundle that is not there: allowed callers get
                // past the gate and fail on the file.
                match v
                    .open_bundle(
                        who,
                        std::path::Path::new("/nonexistent.bundle"),
                        std::path::Path::new("/nonexistent-out"),
                    )
                    .await
                {
                    Err(VaultError::Denied(_)) => Err(VaultError::Denied("receive_transfer")),
                    _ => Ok(()),
                }
            }
        };
        match r {
            Ok(()) => true,
            Err(
                VaultError::UnknownChild(_)
                | VaultError::UnknownDocument(_)
                | VaultError::Denied(_)
                | VaultError::SeparationOfDuties(_),
            ) => false,
            Err(e) => panic!("{act:?} failed with an unexpected error: {e}"),
        }
    }
}

struct SharedSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
impl std::io::Write for SharedSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_table_holds() {
    // A bundle from the demo source brings child T into the destination.
    let (src, dst) = two_nodes();
    let (child, _) = child_with(&src, "Zqxmarker Child", &["fir", "medical_report"], 3_000);
    let bundle = create(&src, &child, "t.bundle", &["--allow-incomplete", "test"]);
    created_id(dst.cmd().args(["bundle", "import"]).arg(&bundle));
    let w = world(&dst).await;
    let v = &w.vault;

    let staff_a = user(v, "staff-a", Role::ShelterStaff, "institution:cci-a").await;
    let cwc_patna = user(v, "cwc-patna", Role::CwcMember, "district:bihar/patna").await;
    let dcpu_patna = user(v, "dcpu-patna", Role::DcpuOfficer, "district:bihar/patna").await;
    let swd = user(v, "swd", Role::SwdOfficer, &format!("department:{DEST}")).await;
    let swd_other = user(
        v,
        "swd-other",
        Role::SwdOfficer,
        "department:rj-dcpu-jaipur",
    )
    .await;
    let admin = user(v, "admin", Role::Admin, &format!("department:{DEST}")).await;
    let cwc_pw = {
        use secrecy::{ExposeSecret, SecretString};
        let one_time = SecretString::from("one-time-from-the-operator".to_string());
        let own = SecretString::from("chosen-by-the-member-7".to_string());
        v.add_user(
            &Principal::LocalOperator,
            "cwc-pw",
            Role::CwcMember,
            "district:bihar/patna".parse().unwrap(),
            Some(&one_time),
        )
        .unwrap();
        let ip: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let (_, token) = v
            .start_session(
                "cwc-pw",
                &one_time,
                Some(&own),
                ip,
                Duration::from_secs(600),
            )
            .unwrap();
        v.authenticate_token(token.expose_secret()).unwrap()
    };
    let ngo = user(v, "ngo", Role::SupportPerson, &format!("department:{DEST}")).await;
    let ngo_expired = user(
        v,
        "ngo-expired",
        Role::SupportPerson,
        &format!("department:{DEST}"),
    )
    .await;
    let ngo_revoked = user(
        v,
        "ngo-revoked",
        Role::SupportPerson,
        &format!("department:{DEST}"),
    )
    .await;
    let ngo_none = user(
        v,
        "ngo-none",
        Role::SupportPerson,
        &format!("department:{DEST}"),
    )
    .await;
    user(
        v,
        "ngo-spare",
        Role::SupportPerson,
        &format!("department:{DEST}"),
    )
    .await;
    let op = Principal::LocalOperator;

    // ngo: a live grant for T's FIR. ngo-expired: one that ends in 2 s.
    // ngo-revoked: a revoked one. The SWD officer grants (T is theirs).
    let soon = Utc::now() + chrono::Duration::seconds(2);
    let later = Utc::now() + chrono::Duration::days(30);
    v.add_grant(
        &swd,
        "ngo",
        w.t,
        vec![DocKind::Fir],
        Purpose::CompensationClaim,
        later,
    )
    .unwrap();
    v.add_grant(
        &swd,
        "ngo-expired",
        w.t,
        vec![DocKind::Fir],
        Purpose::CompensationClaim,
        soon,
    )
    .unwrap();
    let revoked = v
        .add_grant(
            &swd,
            "ngo-revoked",
            w.t,
            vec![DocKind::Fir],
            Purpose::CompensationClaim,
            later,
        )
        .unwrap();
    v.revoke_grant(&swd, revoked.id).unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    use Act::*;
    use Doc::*;
    use Target::*;
    let table: Vec<(&str, &Principal, Act, bool)> = vec![
        // shelter staff: own institution only
        ("staff lists", &staff_a, List, true),
        ("staff reads own record", &staff_a, ReadRecord(A), true),
        (
            "staff reads other institution's record",
            &staff_a,
            ReadRecord(B),
            false,
        ),
        (
            "staff reads transferred child",
            &staff_a,
            ReadRecord(T),
            false,
        ),
        ("staff reads own FIR", &staff_a, ReadDoc(AFir), true),
        (
            "staff reads own medical report",
            &staff_a,
            ReadDoc(AMedical),
            true,
        ),
        (
            "staff reads other institution's FIR",
            &staff_a,
            ReadDoc(BFir),
            false,
        ),
        ("staff adds to own child", &staff_a, AddDoc(A), true),
        ("staff adds to other child", &staff_a, AddDoc(B), false),
        (
            "staff takes a child in at own institution",
            &staff_a,
            CreateChild("cci-a", "bihar/patna"),
            true,
        ),
        (
            "staff takes a child in elsewhere",
            &staff_a,
            CreateChild("cci-b", "bihar/gaya"),
            false,
        ),
        ("staff edits own child", &staff_a, EditChild(A), true),
        ("staff edits other child", &staff_a, EditChild(B), false),
        ("staff grants", &staff_a, Grant(A), false),
        ("staff administers", &staff_a, Administer, false),
        ("staff receives bundles", &staff_a, ReceiveTransfer, false),
        // CWC: own district
        (
            "cwc reads own district record",
            &cwc_patna,
            ReadRecord(A),
            true,
        ),
        (
            "cwc reads other district record",
            &cwc_patna,
            ReadRecord(B),
            false,
        ),
        (
            "cwc reads own district FIR",
            &cwc_patna,
            ReadDoc(AFir),
            true,
        ),
        (
            "cwc reads other district FIR",
            &cwc_patna,
            ReadDoc(BFir),
            false,
        ),
        (
            "cwc reads transferred child's FIR",
            &cwc_patna,
            ReadDoc(TFir),
            false,
        ),
        ("cwc adds documents", &cwc_patna, AddDoc(A), false),
        (
            "cwc sees access log of own district",
            &cwc_patna,
            AccessLog(A),
            true,
        ),
        (
            "cwc sees access log elsewhere",
            &cwc_patna,
            AccessLog(B),
            false,
        ),
        ("cwc administers", &cwc_patna, Administer, false),
        // DCPU: records of own district, never contents
        (
            "dcpu reads own district record",
            &dcpu_patna,
            ReadRecord(A),
            true,
        ),
        (
            "dcpu reads other district record",
            &dcpu_patna,
            ReadRecord(B),
            false,
        ),
        ("dcpu reads a document", &dcpu_patna, ReadDoc(AFir), false),
        (
            "dcpu reads another document",
            &dcpu_patna,
            ReadDoc(AMedical),
            false,
        ),
        ("dcpu adds documents", &dcpu_patna, AddDoc(A), false),
        ("dcpu sees access log", &dcpu_patna, AccessLog(A), true),
        ("dcpu edits", &dcpu_patna, EditChild(A), false),
        // SWD: children transferred into their department
        ("swd reads transferred record", &swd, ReadRecord(T), true),
        ("swd reads transferred FIR", &swd, ReadDoc(TFir), true),
        (
            "swd reads transferred medical report",
            &swd,
            ReadDoc(TMedical),
            true,
        ),
        (
            "swd reads a local child's record",
            &swd,
            ReadRecord(A),
            false,
        ),
        ("swd reads a local child's FIR", &swd, ReadDoc(AFir), false),
        ("swd grants for transferred child", &swd, Grant(T), true),
        ("swd grants for local child", &swd, Grant(A), false),
        ("swd receives bundles", &swd, ReceiveTransfer, true),
        (
            "swd of another department reads transferred child",
            &swd_other,
            ReadRecord(T),
            false,
        ),
        (
            "swd of another department reads its FIR",
            &swd_other,
            ReadDoc(TFir),
            false,
        ),
        (
            "swd of another department receives bundles",
            &swd_other,
            ReceiveTransfer,
            false,
        ),
        ("swd administers", &swd, Administer, false),
        // support persons: only through a live grant, only its kinds
        ("support lists", &ngo, List, true),
        ("support reads granted FIR", &ngo, ReadDoc(TFir), true),
        (
            "support reads granted child's record",
            &ngo,
            ReadRecord(T),
            true,
        ),
        (
            "support reads a kind not granted",
            &ngo,
            ReadDoc(TMedical),
            false,
        ),
        (
            "support reads another child's FIR",
            &ngo,
            ReadDoc(AFir),
            false,
        ),
        (
            "support reads another child's record",
            &ngo,
            ReadRecord(A),
            false,
        ),
        ("support adds documents", &ngo, AddDoc(T), false),
        ("support grants on", &ngo, Grant(T), false),
        (
            "support with an expired grant",
            &ngo_expired,
            ReadDoc(TFir),
            false,
        ),
        (
            "support with an expired grant, record",
            &ngo_expired,
            ReadRecord(T),
            false,
        ),
        (
            "support with a revoked grant",
            &ngo_revoked,
            ReadDoc(TFir),
            false,
        ),
        (
            "support with a revoked grant, record",
            &ngo_revoked,
            ReadRecord(T),
            false,
        ),
        ("support without a grant", &ngo_none, ReadDoc(TFir), false),
        (
            "support without a grant, record",
            &ngo_none,
            ReadRecord(T),
            false,
        ),
        // admin: administration, never children's papers
        ("admin administers", &admin, Administer, true),
        ("admin reads a record", &admin, ReadRecord(A), false),
        ("admin reads a document", &admin, ReadDoc(AFir), false),
        (
            "admin reads a transferred document",
            &admin,
            ReadDoc(TFir),
            false,
        ),
        ("admin adds documents", &admin, AddDoc(A), false),
        ("admin grants", &admin, Grant(T), false),
        (
            "admin takes a child in",
            &admin,
            CreateChild("cci-a", "bihar/patna"),
            false,
        ),
        // the local operator
        ("operator reads any document", &op, ReadDoc(BFir), true),
        ("operator administers", &op, Administer, true),
        // indirect routes to papers: an admin borrowing an account
        (
            "admin mints a token for a reader with a password",
            &admin,
            MintToken("cwc-pw"),
            false,
        ),
        (
            "operator mints a token for a reader with a password",
            &op,
            MintToken("cwc-pw"),
            false,
        ),
        (
            "a reader mints their own token",
            &cwc_pw,
            MintToken("cwc-pw"),
            true,
        ),
        (
            "staff mint a token for someone else",
            &staff_a,
            MintToken("cwc-pw"),
            false,
        ),
        (
            "admin mints a token for a token-only account",
            &admin,
            MintToken("ngo"),
            true,
        ),
        // moving a child out of oversight
        ("staff move their own child", &staff_a, Move(A), false),
        (
            "cwc moves a child of own district",
            &cwc_patna,
            Move(A),
            true,
        ),
        (
            "cwc moves a child of another district",
            &cwc_patna,
            Move(B),
            false,
        ),
        (
            "dcpu moves a child of own district",
            &dcpu_patna,
            Move(A),
            true,
        ),
        ("admin moves a child", &admin, Move(A), false),
        ("cwc moves a transferred child", &cwc_patna, Move(T), false),
        ("swd places a transferred child", &swd, Move(T), true),
    ];
    assert!(table.len() >= 60, "{} cases", table.len());
    let mut wrong = Vec::new();
    for (name, who, act, expected) in &table {
        let got = w.run(who, *act).await;
        if got != *expected {
            wrong.push(format!(
                "{name}: expected {}, got {}",
                allow(*expected),
                allow(got)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "decisions differ from the table:\n{}",
        wrong.join("\n")
    );

    // Listing shows exactly what each may see.
    let seen = |list: Vec<handover::domain::Child>| {
        let mut ids: Vec<_> = list.into_iter().map(|c| c.id).collect();
        ids.sort();
        ids
    };
    let only = |ids: &[ChildId]| {
        let mut ids = ids.to_vec();
        ids.sort();
        ids
    };
    assert!(seen(v.list_children(&staff_a).unwrap())
        .iter()
        .all(|id| *id != w.b && *id != w.t));
    assert_eq!(seen(v.list_children(&ngo).unwrap()), only(&[w.t]));
    assert_eq!(seen(v.list_children(&ngo_none).unwrap()), only(&[]));
    assert_eq!(seen(v.list_children(&swd).unwrap()), only(&[w.t]));
    assert!(matches!(
        v.list_children(&admin),
        Err(VaultError::Denied("list_children"))
    ));
}

fn allow(b: bool) -> &'static str {
    if b {
        "allow"
    } else {
        "deny"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_users_and_revoked_tokens_get_nothing() {
    let node = demo_node(DEST, &[]);
    let v = open_vault(&node).await;
    let a = local_child(&v, "cci-a", "bihar/patna").await;
    let fir = put(&v, a, DocKind::Fir).await;
    let op = Principal::LocalOperator;
    v.add_user(
        &op,
        "staff",
        Role::ShelterStaff,
        "institution:cci-a".parse().unwrap(),
        None,
    )
    .unwrap();
    let (row, token) = v
        .create_token(&op, "staff", Duration::from_secs(600))
        .unwrap();
    let (_, token2) = v
        .create_token(&op, "staff", Duration::from_secs(600))
        .unwrap();
    use secrecy::ExposeSecret;
    let who = v.authenticate_token(token.expose_secret()).unwrap();
    assert!(v
        .read_document(&who, fir, Box::new(std::io::sink()))
        .await
        .is_ok());

    // A revoked token stops at once; the other still works.
    v.revoke_token(&op, row.id).unwrap();
    assert!(matches!(
        v.authenticate_token(token.expose_secret()),
        Err(VaultError::Unauthenticated)
    ));
    assert!(v.authenticate_token(token2.expose_secret()).is_ok());
    assert!(matches!(
        v.authenticate_token("hov_guessed"),
        Err(VaultError::Unauthenticated)
    ));

    // Disabling stops every token, and a principal obtained before is
    // refused by the policies too.
    v.set_user_disabled(&op, "staff", true).unwrap();
    assert!(matches!(
        v.authenticate_token(token2.expose_secret()),
        Err(VaultError::Unauthenticated)
    ));
    let Principal::User(mut stale) = who else {
        unreachable!()
    };
    stale.disabled = true;
    let stale = Principal::User(stale);
    assert!(matches!(
        v.read_document(&stale, fir, Box::new(std::io::sink()))
            .await,
        Err(VaultError::UnknownDocument(_))
    ));
    assert!(matches!(
        v.show_child(&stale, a, Purpose::Restoration),
        Err(VaultError::UnknownChild(_))
    ));
    assert!(matches!(
        v.list_children(&stale),
        Err(VaultError::Denied("list_children"))
    ));

    // Enabling again brings no token back: disabling revoked them for good.
    v.set_user_disabled(&op, "staff", false).unwrap();
    assert!(matches!(
        v.authenticate_token(token2.expose_secret()),
        Err(VaultError::Unauthenticated)
    ));

    // Expired tokens: a token of one second, by a clock moved by hand.
    let clock = std::sync::Arc::new(HandClock(std::sync::Mutex::new(chrono::Utc::now())));
    v.set_clock(clock.clone());
    let (_, short) = v
        .create_token(&op, "staff", Duration::from_secs(1))
        .unwrap();
    clock.advance(chrono::Duration::milliseconds(999));
    assert!(v.authenticate_token(short.expose_secret()).is_ok());
    clock.advance(chrono::Duration::milliseconds(2));
    assert!(matches!(
        v.authenticate_token(short.expose_secret()),
        Err(VaultError::Unauthenticated)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_ids_reveals_nothing() {
    let node = demo_node(DEST, &[]);
    let v = open_vault(&node).await;
    // A child of the caller's own institution exists too, so "unknown"
    // cannot mean "this node has no children for you".
    local_child(&v, "cci-a", "bihar/patna").await;
    let theirs = local_child(&v, "cci-b", "bihar/patna").await;
    let their_doc = put(&v, theirs, DocKind::Fir).await;
    let who = user(&v, "staff", Role::ShelterStaff, "institution:cci-a").await;
    let made_up_child = ChildId::new();
    let made_up_doc = DocumentId::new();

    let shape = |e: VaultError, id: &str| e.to_string().replace(id, "ID");
    let existing = v
        .show_child(&who, theirs, Purpose::Restoration)
        .unwrap_err();
    let missing = v
        .show_child(&who, made_up_child, Purpose::Restoration)
        .unwrap_err();
    assert_eq!(existing.class(), missing.class());
    assert_eq!(
        shape(existing, &theirs.to_string()),
        shape(missing, &made_up_child.to_string())
    );

    for read in [true, false] {
        let (existing, missing) = if read {
            (
                v.read_document(&who, their_doc, Box::new(std::io::sink()))
                    .await
                    .unwrap_err(),
                v.read_document(&who, made_up_doc, Box::new(std::io::sink()))
                    .await
                    .unwrap_err(),
            )
        } else {
            (
                v.document(&who, their_doc).unwrap_err(),
                v.document(&who, made_up_doc).unwrap_err(),
            )
        };
        assert_eq!(existing.class(), missing.class());
        assert_eq!(
            shape(existing, &their_doc.to_string()),
            shape(missing, &made_up_doc.to_string())
        );
    }
    let existing = v.list_documents(&who, theirs).unwrap_err();
    let missing = v.list_documents(&who, made_up_child).unwrap_err();
    assert_eq!(
        shape(existing, &theirs.to_string()),
        shape(missing, &made_up_child.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_checked_with_argon2id() {
    use secrecy::{ExposeSecret, SecretString};
    let node = demo_node(DEST, &[]);
    let v = open_vault(&node).await;
    let op = Principal::LocalOperator;
    let client: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let day = Duration::from_secs(86_400);
    let login = |name: &str, pw: &SecretString, new: Option<&SecretString>| {
        v.start_session(name, pw, new, client, day)
    };
    let pw = SecretString::from("correct horse battery staple".to_string());
    let mine = SecretString::from("river kite lantern forty".to_string());
    let scope: Scope = "district:bihar/patna".parse().unwrap();
    v.add_user(&op, "cwc", Role::CwcMember, scope, Some(&pw))
        .unwrap();
    // The password an operator chose works only to choose another.
    assert!(matches!(
        login("cwc", &pw, None),
        Err(VaultError::PasswordChangeRequired)
    ));
    assert!(matches!(
        login("cwc", &pw, Some(&pw)),
        Err(VaultError::WeakPassword(WeakPassword::Unchanged))
    ));
    let weak = SecretString::from("password1234".to_string());
    assert!(matches!(
        login("cwc", &pw, Some(&weak)),
        Err(VaultError::WeakPassword(WeakPassword::Common))
    ));
    let (_, session) = login("cwc", &pw, Some(&mine)).unwrap();
    assert!(v.authenticate_token(session.expose_secret()).is_ok());
    assert!(login("cwc", &mine, None).is_ok());
    let wrong = SecretString::from("correct horse battery stapler".to_string());
    assert!(matches!(
        login("cwc", &wrong, None),
        Err(VaultError::Unauthenticated)
    ));
    assert!(matches!(
        login("nobody", &pw, None),
        Err(VaultError::Unauthenticated)
    ));
    // A reset revokes every session and must be changed again.
    v.set_password(&op, "cwc", &wrong).unwrap();
    assert!(matches!(
        v.authenticate_token(session.expose_secret()),
        Err(VaultError::Unauthenticated)
    ));
    assert!(matches!(
        login("cwc", &mine, None),
        Err(VaultError::Unauthenticated)
    ));
    assert!(matches!(
        login("cwc", &wrong, None),
        Err(VaultError::PasswordChangeRequired)
    ));
    assert!(login("cwc", &wrong, Some(&mine)).is_ok());
    // A disabled user cannot sign in.
    v.set_user_disabled(&op, "cwc", true).unwrap();
    assert!(matches!(
        login("cwc", &mine, None),
        Err(VaultError::Unauthenticated)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_changes_only_by_a_move_and_an_imported_one_grants_nothing() {
    // The source places its child at an institution whose id is also a
    // home at the destination.
    let (src, dst) = two_nodes();
    let child = created_id(src.cmd().args([
        "child",
        "add",
        "--name",
        "Zqxmarker Child",
        "--institution",
        "cci-a",
        "--district",
        "bihar/patna",
    ]));
    let bundle = create(&src, &child, "t.bundle", &["--allow-incomplete", "test"]);
    created_id(dst.cmd().args(["bundle", "import"]).arg(&bundle));
    let v = open_vault(&dst).await;
    let t = v.list_children(&Principal::LocalOperator).unwrap()[0].clone();
    assert_eq!(t.record.institution, None, "placed with the department");
    assert_eq!(t.record.district, None);
    let origin = t.origin.clone().unwrap();
    assert_eq!(origin.source_institution.as_deref(), Some("cci-a"));
    assert_eq!(origin.source_district.as_deref(), Some("bihar/patna"));
    // The destination's own staff and CWC with those very scope strings see nothing.
    let staff = user(&v, "staff-a", Role::ShelterStaff, "institution:cci-a").await;
    let cwc = user(&v, "cwc", Role::CwcMember, "district:bihar/patna").await;
    let gaya = user(&v, "cwc-gaya", Role::CwcMember, "district:bihar/gaya").await;
    for who in [&staff, &cwc] {
        assert!(matches!(
            v.show_child(who, t.id, Purpose::Restoration),
            Err(VaultError::UnknownChild(_))
        ));
    }

    // Staff may not move a child by editing its record, nor name a
    // district that is not on the list.
    let mine = v
        .add_child(
            &staff,
            CaseRecord {
                name: "Zqxmarker Other".into(),
                district: Some("bihar/patna".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let patch = handover::domain::CaseRecordPatch {
        district: Some("bihar/gaya".into()),
        ..Default::default()
    };
    assert!(matches!(
        v.edit_child(&staff, mine, patch),
        Err(VaultError::PlacementByMoveOnly)
    ));
    let unknown = CaseRecord {
        name: "Zqxmarker Third".into(),
        district: Some("bihar/atlantis".into()),
        ..Default::default()
    };
    assert!(matches!(
        v.add_child(&staff, unknown),
        Err(VaultError::UnknownDistrict)
    ));
    assert!(matches!(
        v.move_child(&staff, mine, None, Some("bihar/gaya".into()), "x"),
        Err(VaultError::UnknownChild(_))
    ));
    assert!(matches!(
        v.move_child(&cwc, mine, None, Some("bihar/atlantis".into()), "x"),
        Err(VaultError::UnknownDistrict)
    ));
    let still = v.show_child(&cwc, mine, Purpose::Restoration).unwrap();
    assert_eq!(still.child.record.district.as_deref(), Some("bihar/patna"));

    // The overseeing CWC moves it, with a reason that stays out of the log.
    let reason = "Zqreason family traced to Gaya";
    v.move_child(&cwc, mine, None, Some("bihar/gaya".into()), reason)
        .unwrap();
    assert!(matches!(
        v.show_child(&cwc, mine, Purpose::Restoration),
        Err(VaultError::UnknownChild(_))
    ));
    assert!(v.show_child(&gaya, mine, Purpose::Restoration).is_ok());
    let log = std::fs::read_to_string(dst.data.join("audit.log")).unwrap();
    assert!(log.contains("\"action\":\"move_child\""));
    assert!(!log.contains("Zqreason"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_person_sees_only_what_the_grant_needs() {
    let (src, dst) = two_nodes();
    let child = created_id(src.cmd().args([
        "child",
        "add",
        "--name",
        "Zqxmarker Child",
        "--home-state",
        "Bihar",
        "--notes",
        "Zqnotes private counselling remark",
        "--cwc-case",
        "CWC/77/2026",
    ]));
    let file = src.file("fir.pdf", &common::pdf(3_000, "fir"));
    created_id(
        src.cmd()
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&file),
    );
    let file = src.file("med.pdf", &common::pdf(3_000, "medical"));
    created_id(
        src.cmd()
            .args([
                "doc",
                "put",
                &child,
                "--kind",
                "medical_report",
                "--title",
                "Zqtitle",
            ])
            .arg(&file),
    );
    let bundle = create(&src, &child, "t.bundle", &["--allow-incomplete", "test"]);
    created_id(dst.cmd().args(["bundle", "import"]).arg(&bundle));
    let v = open_vault(&dst).await;
    let t = v.list_children(&Principal::LocalOperator).unwrap()[0].id;
    let swd = user(&v, "swd", Role::SwdOfficer, &format!("department:{DEST}")).await;
    let ngo = user(
        &v,
        "ngo",
        Role::SupportPerson,
        &format!("department:{DEST}"),
    )
    .await;
    v.add_grant(
        &swd,
        "ngo",
        t,
        vec![DocKind::Fir],
        Purpose::CompensationClaim,
        Utc::now() + chrono::Duration::days(10),
    )
    .unwrap();
    let view = v.show_child(&ngo, t, Purpose::CompensationClaim).unwrap();
    assert_eq!(view.child.record.name, "Zqxmarker Child");
    assert_eq!(
        view.child.record.cwc_case_number.as_deref(),
        Some("CWC/77/2026")
    );
    assert_eq!(view.child.record.notes, None, "no notes for a claim");
    assert!(view.child.origin.is_none());
    let kinds: Vec<DocKind> = view.documents.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        vec![DocKind::Fir],
        "only the granted kind, no other title"
    );
    let docs = v.list_documents(&ngo, t).unwrap();
    assert_eq!(docs.len(), 1);
    let listed = v.list_children(&ngo).unwrap();
    assert_eq!(listed[0].record.notes, None);
    // The officer still sees everything.
    let full = v.show_child(&swd, t, Purpose::Restoration).unwrap();
    assert!(full.child.record.notes.is_some());
    assert_eq!(full.documents.len(), 2);
    // Not even the metadata (the title) of a kind outside the grant.
    let medical = full
        .documents
        .iter()
        .find(|d| d.kind == DocKind::MedicalReport)
        .unwrap();
    assert!(matches!(
        v.document(&ngo, medical.id),
        Err(VaultError::UnknownDocument(_))
    ));
    assert_eq!(v.document(&ngo, docs[0].id).unwrap().kind, DocKind::Fir);
}

/// A clock the test moves by hand.
struct HandClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl HandClock {
    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl handover::vault::Clock for HandClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}
