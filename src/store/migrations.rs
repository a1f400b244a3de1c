//! Versioned schema migrations, applied in order; `PRAGMA user_version` holds
//! the number applied. Append new steps; never edit a released one.

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema from version i to i+1.
const STEPS: &[&str] = &[
    // 1: children, documents, uploads in flight, node facts.
    r#"
    CREATE TABLE node (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE children (
        id         TEXT PRIMARY KEY,
        record     TEXT NOT NULL CHECK (json_valid(record)),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        institution TEXT GENERATED ALWAYS AS (json_extract(record, '$.institution')) VIRTUAL
    );
    CREATE TABLE documents (
        id         TEXT PRIMARY KEY,
        child_id   TEXT NOT NULL REFERENCES children(id),
        kind       TEXT NOT NULL,
        title      TEXT,
        file_name  TEXT,
        media_type TEXT NOT NULL,
        size       INTEGER NOT NULL CHECK (size >= 0),
        sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
        blob_key   TEXT NOT NULL UNIQUE,
        added_by   TEXT NOT NULL,
        added_at   TEXT NOT NULL
    );
    CREATE INDEX documents_by_child ON documents(child_id, added_at);
    -- A row here while a blob is being written; removed in the same
    -- transaction that adds the document row. Left over only by a crash.
    CREATE TABLE pending_blobs (
        blob_key   TEXT PRIMARY KEY,
        started_at TEXT NOT NULL
    );
    "#,
    // 2: the department directory (public cards this node trusts).
    r#"
    CREATE TABLE departments (
        id       TEXT PRIMARY KEY,
        card     TEXT NOT NULL CHECK (json_valid(card)),
        added_at TEXT NOT NULL
    );
    "#,
    // 3: hand-over by bundle: what this node sent (and the receipts that
    // came back), what it imported, and where an imported child came from.
    r#"
    CREATE TABLE sent_bundles (
        bundle_id       TEXT PRIMARY KEY,
        child_id        TEXT NOT NULL REFERENCES children(id),
        destination     TEXT NOT NULL,
        envelope_sha256 TEXT NOT NULL CHECK (length(envelope_sha256) = 64),
        documents       TEXT NOT NULL CHECK (json_valid(documents)),
        created_at      TEXT NOT NULL,
        delivered_at    TEXT,
        receipt         TEXT
    );
    CREATE TABLE imported_bundles (
        bundle_id       TEXT PRIMARY KEY,
        child_id        TEXT NOT NULL REFERENCES children(id),
        source          TEXT NOT NULL,
        envelope_sha256 TEXT NOT NULL CHECK (length(envelope_sha256) = 64),
        receipt         TEXT NOT NULL,
        imported_at     TEXT NOT NULL
    );
    ALTER TABLE children ADD COLUMN origin TEXT CHECK (origin IS NULL OR json_valid(origin));
    "#,
    // 4: who may do what: users (Argon2id password hashes), API tokens
    // (SHA-256 of the token; the token itself is shown once) and grants.
    r#"
    CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        role          TEXT NOT NULL,
        scope         TEXT NOT NULL,
        password_hash TEXT,
        disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at    TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        user_id     TEXT NOT NULL REFERENCES users(id),
        hash        TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        revoked_at  TEXT
    );
    CREATE INDEX tokens_by_user ON tokens(user_id);
    CREATE TABLE grants (
        id          TEXT PRIMARY KEY,
        user_id     TEXT NOT NULL REFERENCES users(id),
        child_id    TEXT NOT NULL REFERENCES children(id),
        kinds       TEXT NOT NULL CHECK (json_valid(kinds)),
        purpose     TEXT NOT NULL,
        until       TEXT NOT NULL,
        granted_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        revoked_at  TEXT
    );
    CREATE INDEX grants_by_user_child ON grants(user_id, child_id);
    "#,
    // 5: transfers of a child to another department (the workflow).
    r#"
    CREATE TABLE transfers (
        id          TEXT PRIMARY KEY,
        child_id    TEXT NOT NULL REFERENCES children(id),
        destination TEXT NOT NULL,
        state       TEXT NOT NULL,
        bundle_id   TEXT UNIQUE,
        record      TEXT NOT NULL CHECK (json_valid(record)),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX transfers_by_child ON transfers(child_id);
    "#,
    // 6: node-to-node delivery: bundles received and waiting for a
    // decision, and what this node still has to push to other nodes.
    r#"
    CREATE TABLE inbox (
        bundle_id   TEXT PRIMARY KEY,
        source      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        documents   INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        received_at TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('waiting', 'accepted', 'refused')),
        decided_by  TEXT,
        decided_at  TEXT,
        reason      TEXT,
        child_id    TEXT
    );
    CREATE TABLE outbox (
        id              TEXT PRIMARY KEY,
        kind            TEXT NOT NULL CHECK (kind IN ('bundle', 'receipt')),
        bundle_id       TEXT NOT NULL,
        destination     TEXT NOT NULL,
        queued_at       TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        done_at         TEXT,
        gave_up_at      TEXT
    );
    "#,
    // 7: the head (age header and payload nonce) of each stored file this
    // node sealed itself: its length and SHA-256. A bundle checks a stored
    // file by its head instead of hashing its whole plaintext. Files stored
    // before, and imported ones (their file key was another node's), have none.
    r#"
    CREATE TABLE sealed_heads (
        document_id TEXT PRIMARY KEY REFERENCES documents (id),
        length      INTEGER NOT NULL,
        sha256      TEXT NOT NULL
    );
    "#,
    // 8: answers to bundles. A refusal this node signed for a bundle it
    // would not import; and, for a bundle this node sent, which answer came
    // back (`delivered_at` and `receipt` then hold its time and its file,
    // a receipt's or a refusal's).
    r#"
    CREATE TABLE refused_bundles (
        bundle_id       TEXT PRIMARY KEY,
        source          TEXT NOT NULL,
        envelope_sha256 TEXT NOT NULL CHECK (length(envelope_sha256) = 64),
        refusal         TEXT NOT NULL,
        refused_at      TEXT NOT NULL
    );
    ALTER TABLE sent_bundles ADD COLUMN answer TEXT
        CHECK (answer IS NULL OR answer IN ('delivered', 'partially_delivered', 'refused'));
    UPDATE sent_bundles SET answer = 'delivered' WHERE delivered_at IS NOT NULL;
    "#,
    // 9: separation of duties. A password someone else set (an account
    // created with one, a reset) must be changed at its first use; who
    // created each account; and every act by which someone gave an account
    // the power to read papers, or took over its password, so that a
    // second person can watch the administrators.
    r#"
    ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN created_by TEXT;
    CREATE TABLE oversight_events (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        kind   TEXT NOT NULL CHECK (kind IN ('reader_created', 'reader_role_given', 'password_reset')),
        actor  TEXT NOT NULL,
        target TEXT NOT NULL,
        at     TEXT NOT NULL
    );
    -- Moves of a child to another placement, with the reason (free text:
    -- kept here, encrypted, and never in the audit log, which names the
    -- move's id).
    CREATE TABLE child_moves (
        id               TEXT PRIMARY KEY,
        child_id         TEXT NOT NULL REFERENCES children(id),
        from_institution TEXT,
        from_district    TEXT,
        to_institution   TEXT,
        to_district      TEXT,
        reason           TEXT NOT NULL,
        moved_by         TEXT NOT NULL,
        moved_at         TEXT NOT NULL
    );
    "#,
    // 10: sessions of people at browsers (the web pages): only a digest of
    // each session's secret, its user, its start and its last use; and the
    // language each user chose for the pages.
    r#"
    CREATE TABLE sessions (
        id         TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users(id),
        hash       TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_seen  TEXT NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions(user_id);
    ALTER TABLE users ADD COLUMN language TEXT
        CHECK (language IS NULL OR language IN ('en', 'hi'));
    "#,
    // 11: resumable uploads being staged: who started each, for which
    // child and kind, its length and until when it may go on (never a
    // file name); and the encrypted segments received so far, each with
    // the length and SHA-256 of its plaintext. A completed upload keeps
    // its row, naming its document, until it expires.
    r#"
    CREATE TABLE uploads (
        id          TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        child_id    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        title       TEXT,
        length      INTEGER NOT NULL CHECK (length > 0),
        received    INTEGER NOT NULL DEFAULT 0 CHECK (received <= length),
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        document_id TEXT
    );
    CREATE INDEX uploads_by_owner ON uploads(owner);
    CREATE TABLE upload_segments (
        upload_id TEXT NOT NULL,
        start     INTEGER NOT NULL,
        length    INTEGER NOT NULL CHECK (length > 0),
        sha256    TEXT NOT NULL,
        PRIMARY KEY (upload_id, start)
    );
    "#,
    // 12: the S3 multipart upload of a pending blob, so a crash's leftover
    // can be found and aborted.
    r#"
    ALTER TABLE pending_blobs ADD COLUMN multipart_id TEXT;
    "#,
    // 13: blobs copied to another store and verified there, so a migration
    // that stopped goes on where it was.
    r#"
    CREATE TABLE migrated_blobs (
        destination TEXT NOT NULL,
        blob_key    TEXT NOT NULL,
        verified_at TEXT NOT NULL,
        PRIMARY KEY (destination, blob_key)
    );
    "#,
    // 14: lists that scale. The scope of a list (institution, district,
    // transferred in) and the name search go into the query: the folded
    // name (`domain::fold_name`, written by the program; `Db::open` fills
    // it for rows from before) and an index per scope in name order. The
    // access history's index: which audit lines name which child (by byte
    // offset), caught up from the log, which stays the one truth.
    r#"
    ALTER TABLE children ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE children ADD COLUMN district TEXT
        GENERATED ALWAYS AS (json_extract(record, '$.district')) VIRTUAL;
    CREATE INDEX children_by_name ON children(name_key, id);
    CREATE INDEX children_by_institution ON children(institution, name_key, id);
    CREATE INDEX children_by_district ON children(district, name_key, id);
    CREATE INDEX children_transferred_in ON children(name_key, id) WHERE origin IS NOT NULL;
    CREATE INDEX transfers_by_time ON transfers(created_at, id);
    CREATE INDEX grants_by_time ON grants(created_at, id);
    CREATE INDEX inbox_by_time ON inbox(received_at, bundle_id);
    CREATE TABLE audit_index (
        child  BLOB NOT NULL,
        seq    INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        PRIMARY KEY (child, seq)
    ) WITHOUT ROWID;
    -- A rebuild of the index loads here in log order, then copies it
    -- sorted into audit_index (inserting millions of rows in random key
    -- order would rewrite most of the tree's pages again and again).
    CREATE TABLE audit_index_load (
        child  BLOB NOT NULL,
        seq    INTEGER NOT NULL,
        offset INTEGER NOT NULL
    );
    "#,
    // 15: crypto-erasure. The age header of each document sealed from now
    // on (it holds the file key, wrapped to the node's identity) lives
    // here, and only the payload in the blob store: deleting this row
    // (with secure_delete on) makes every copy of the payload unreadable.
    // Documents stored before keep their whole age file in the blob store
    // (no row here). The erasure of a child: when, by whom, on what order.
    r#"
    CREATE TABLE age_headers (
        document_id TEXT PRIMARY KEY,
        header      BLOB NOT NULL
    );
    CREATE TABLE erasures (
        child_id    TEXT PRIMARY KEY,
        erased_at   TEXT NOT NULL,
        erased_by   TEXT NOT NULL,
        order_no    TEXT NOT NULL,
        reason      TEXT NOT NULL
    );
    "#,
    // 16: the state of each child's case (retention is counted from the
    // time it was entered; before that, from the record's creation), and
    // documents erased one by one (a retention rule for some kinds).
    r#"
    ALTER TABLE children ADD COLUMN case_state TEXT NOT NULL DEFAULT 'in_care';
    ALTER TABLE children ADD COLUMN case_state_at TEXT;
    CREATE TABLE erased_documents (
        document_id TEXT PRIMARY KEY,
        erased_at   TEXT NOT NULL,
        erased_by   TEXT NOT NULL,
        rule        TEXT NOT NULL
    );
    "#,
    // 17: key rotation. Which age recipient each header is wrapped to
    // (NULL: the identity the node had before its first storage rotation);
    // the recipients whose identity a storage rotation destroyed, to which
    // no header may be written any more; other departments' signing keys
    // this node revoked (lost or stolen), by SSH fingerprint.
    r#"
    ALTER TABLE age_headers ADD COLUMN recipient TEXT;
    CREATE INDEX age_headers_recipient ON age_headers (recipient);
    CREATE TABLE retired_recipients (
        recipient  TEXT PRIMARY KEY,
        retired_at TEXT NOT NULL
    );
    CREATE TABLE revoked_keys (
        department  TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        revoked_at  TEXT NOT NULL,
        reason      TEXT NOT NULL,
        PRIMARY KEY (department, fingerprint)
    );
    "#,
];

/// The schema version this program writes.
pub const CURRENT: i64 = STEPS.len() as i64;

/// Brings the database up to [`CURRENT`].
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > CURRENT {
        return Err(StoreError::TooNew(version));
    }
    for (i, step) in STEPS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
