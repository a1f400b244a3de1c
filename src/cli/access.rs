//! `user`, `token`, `grant`, `policy check` and `audit verify|log`: who may
//! do what on this node, and the record of what was done.

use super::output::CliResult;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use secrecy::SecretString;

use super::output::{actor, open, print_json, CliError};
use crate::config::Settings;
use crate::domain::{ChildId, DocKind, GrantId, Purpose, Role, Scope, TokenId};
use crate::vault::Vault;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints the new user id
    Add(UserAddArgs),
    /// List users (no password hashes)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their password stops working and every token and
    /// session of theirs is revoked for good
    Disable { name: String },
    /// Enable a disabled user again (revoked tokens stay revoked)
    Enable { name: String },
    /// Give a user another role and scope; revokes every token and session of theirs
    Role {
        name: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        scope: Scope,
    },
    /// Reset a user's password (prompted, or one line on stdin): it works
    /// once, to set a new one at the next login; revokes every token and
    /// session of the user
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Login name: 2-64 of a-z 0-9 . _ -
    name: String,
    /// shelter_staff, cwc_member, dcpu_officer, swd_officer, support_person or admin
    #[arg(long)]
    role: Role,
    /// Where the user works: institution:ID, district:STATE/DISTRICT or department:ID
    #[arg(long)]
    scope: Scope,
    /// Read the password from the first line of stdin
    #[arg(long, conflicts_with = "no_password")]
    password_stdin: bool,
    /// No password: the user signs in with tokens only
    #[arg(long)]
    no_password: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user; prints it once (only its hash is kept)
    Create {
        user: String,
        /// Lifetime, e.g. 30d, 12h (at most 366 days)
        #[arg(long, default_value = "30d")]
        expires: humantime::Duration,
    },
    /// List tokens (never the tokens themselves)
    List {
        /// Only this user's tokens
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once
    Revoke { id: TokenId },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Let a support person read some kinds of a child's papers for a purpose, until a date
    Add(GrantAddArgs),
    /// List grants (of one child, or all)
    List {
        #[arg(long)]
        child: Option<ChildId>,
        #[arg(long)]
        json: bool,
    },
    /// End a grant at once
    Revoke { id: GrantId },
}

#[derive(Debug, Args)]
pub struct GrantAddArgs {
    /// The support person's user name
    #[arg(long)]
    to: String,
    #[arg(long)]
    child: ChildId,
    /// Document kinds, comma-separated (e.g. fir,medical_report)
    #[arg(long, value_delimiter = ',', required = true)]
    kinds: Vec<String>,
    /// restoration, compensation_claim or school_enrolment
    #[arg(long)]
    purpose: Purpose,
    /// Last day (YYYY-MM-DD, to the end of that day, India time) or an RFC 3339 time
    #[arg(long)]
    until: String,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy directory (default: the node's) without starting
    Check { dir: Option<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain and every signed checkpoint; names the first bad
    /// line. Needs only the log and the node's public card, no secret.
    Verify {
        /// The log to check [default: DIR/audit.log]
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// The card of the node that wrote it [default: DIR/card.json]
        #[arg(long, value_name = "CARD.json")]
        card: Option<PathBuf>,
    },
    /// A child's access history: who asked for which papers, when and why
    Log {
        #[arg(long)]
        child: ChildId,
        #[arg(long)]
        json: bool,
    },
}

fn read_password(from_stdin: bool, confirm: bool) -> CliResult<SecretString> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin().take(4096).read_to_string(&mut text)?;
        let line = text.lines().next().unwrap_or_default().to_string();
        return Ok(SecretString::from(line));
    }
    if !std::io::stderr().is_terminal() {
        return Err(CliError::Usage(
            "no terminal to ask for the password: use --password-stdin or --no-password".into(),
        ));
    }
    let first = rpassword::prompt_password("Password: ")?;
    if confirm && rpassword::prompt_password("Repeat the password: ")? != first {
        return Err(CliError::Usage("the passwords differ".into()));
    }
    Ok(SecretString::from(first))
}

pub async fn user(settings: Settings, cmd: UserCommand) -> CliResult<()> {
    let vault = open(settings).await?;
    let who = actor(&vault)?;
    match cmd {
        UserCommand::Add(a) => {
            let password = if a.no_password {
                None
            } else {
                Some(read_password(a.password_stdin, true)?)
            };
            let user = vault.add_user(&who, &a.name, a.role, a.scope, password.as_ref())?;
            println!("{}", user.id);
        }
        UserCommand::List { json } => {
            let users = vault.list_users(&who)?;
            if json {
                return print_json(&users);
            }
            for u in users {
                println!(
                    "{}  {:<24} {:<15} {:<40} {}{}{}",
                    u.id,
                    u.name,
                    u.role,
                    u.scope,
                    if u.disabled { "disabled" } else { "enabled" },
                    if u.has_password { "" } else { ", tokens only" },
                    if u.must_change_password {
                        ", password to be changed"
                    } else {
                        ""
                    }
                );
            }
        }
        UserCommand::Disable { name } => {
            vault.set_user_disabled(&who, &name, true)?;
            eprintln!("user {name} disabled");
        }
        UserCommand::Enable { name } => {
            vault.set_user_disabled(&who, &name, false)?;
            eprintln!("user {name} enabled");
        }
        UserCommand::Role { name, role, scope } => {
            vault.set_user_role(&who, &name, role, scope.clone())?;
            eprintln!("user {name} is now {role} at {scope}; their tokens are revoked");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            vault.set_password(&who, &name, &password)?;
            eprintln!("password of {name} reset: it must be changed at the next login");
        }
    }
    Ok(())
}

pub async fn status(settings: Settings, json: bool) -> CliResult<()> {
    let vault = open(settings).await?;
    let status = vault.status(&actor(&vault)?)?;
    if json {
        return print_json(&status);
    }
    println!("department {}", status.department);
    for (role, n) in &status.users_by_role {
        println!("users  {role:<15} {n}");
    }
    for c in &status.oversight {
        let last = c
            .last_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into());
        println!(
            "oversight  {:<18} {:>5}  last {last}",
            c.kind.as_str(),
            c.count
        );
    }
    for e in &status.recent {
        println!(
            "  {}  {:<18} by {} to user {}",
            e.at.to_rfc3339(),
            e.kind.as_str(),
            e.actor,
            e.target
        );
    }
    Ok(())
}

pub async fn token(settings: Settings, cmd: TokenCommand) -> CliResult<()> {
    let vault = open(settings).await?;
    let who = actor(&vault)?;
    match cmd {
        TokenCommand::Create { user, expires } => {
            let (row, token) = vault.create_token(&who, &user, expires.into())?;
            use secrecy::ExposeSecret;
            println!("{}", token.expose_secret());
            eprintln!(
                "token {} for {user}, valid until {}; it is shown only this once",
                row.id,
                row.expires_at.to_rfc3339()
            );
        }
        TokenCommand::List { user, json } => {
            let tokens = vault.list_tokens(&who, user.as_deref())?;
            if json {
                return print_json(&tokens);
            }
            let now = Utc::now();
            for t in tokens {
                println!(
                    "{}  user {}  until {}  {}",
                    t.id,
                    t.user,
                    t.expires_at.to_rfc3339(),
                    t.state(now)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            vault.revoke_token(&who, id)?;
            eprintln!("token {id} revoked");
        }
    }
    Ok(())
}

fn parse_until(s: &str) -> Result<DateTime<Utc>, CliError> {
    crate::domain::parse_until(s).map_err(|e| CliError::Usage(format!("--until {e}")))
}

pub async fn grant(settings: Settings, cmd: GrantCommand) -> CliResult<()> {
    match cmd {
        GrantCommand::Add(a) => {
            let kinds = a
                .kinds
                .iter()
                .map(|k| k.trim().parse::<DocKind>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let until = parse_until(&a.until)?;
            let vault = open(settings).await?;
            let who = actor(&vault)?;
            let g = vault.add_grant(&who, &a.to, a.child, kinds, a.purpose, until)?;
            println!("{}", g.id);
            eprintln!("grant {} until {}", g.id, g.until.to_rfc3339());
        }
        GrantCommand::List { child, json } => {
            let vault = open(settings).await?;
            let who = actor(&vault)?;
            let grants = vault.list_grants(&who, child)?;
            if json {
                return print_json(&grants);
            }
            let now = Utc::now();
            for g in grants {
                let kinds: Vec<_> = g.kinds.iter().map(|k| k.as_str()).collect();
                println!(
                    "{}  child {}  user {}  {}  {}  until {}  {}",
                    g.id,
                    g.child,
                    g.user,
                    kinds.join(","),
                    g.purpose,
                    g.until.to_rfc3339(),
                    g.state(now)
                );
            }
        }
        GrantCommand::Revoke { id } => {
            let vault = open(settings).await?;
            let who = actor(&vault)?;
            vault.revoke_grant(&who, id)?;
            eprintln!("grant {id} revoked");
        }
    }
    Ok(())
}

pub fn policy(settings: Settings, cmd: PolicyCommand) -> CliResult<()> {
    let PolicyCommand::Check { dir } = cmd;
    let dir = dir.or(settings.policies_dir);
    let n = crate::vault::check_policies(dir.as_deref())?;
    match dir {
        Some(d) => println!(
            "{}: {n} policies parse and validate against the schema",
            d.display()
        ),
        None => println!("built-in policies: {n} parse and validate against the schema"),
    }
    Ok(())
}

pub async fn audit(settings: Settings, cmd: AuditCommand) -> CliResult<()> {
    match cmd {
        AuditCommand::Verify { log, card } => {
            let own_node = log.is_none() && card.is_none() && Vault::exists(&settings.data_dir);
            let v = crate::vault::verify_audit_log(&settings.data_dir, log, card)?;
            println!(
                "audit log verified: {} lines, {} signed checkpoints (last at line {}), {} entries after it",
                v.lines, v.checkpoints, v.last_checkpoint, v.unsigned_tail
            );
            // The node's own log: its access-history index must agree with
            // it too. That needs the database, so the node's key; without
            // it the log alone was checked, and that is said.
            if own_node {
                match open(settings).await {
                    Ok(vault) => {
                        let n = vault.verify_audit_index()?;
                        println!("access-history index verified: {n} entries, each at its line");
                    }
                    Err(e) => eprintln!("the access-history index was not checked: {e}"),
                }
            }
        }
        AuditCommand::Log { child, json } => {
            let vault = open(settings).await?;
            let who = actor(&vault)?;
            let entries = vault.access_log(&who, child)?;
            if json {
                let lines: Vec<_> = entries.into_iter().map(|(l, _)| l).collect();
                return print_json(&lines);
            }
            for (line, e) in entries {
                println!(
                    "{}  {:<8} {:<16} {:<15} {:<44} doc {}  {}{}",
                    line.time.to_rfc3339(),
                    match e.decision {
                        crate::vault::Outcome::Allow => "allow",
                        crate::vault::Outcome::Deny => "deny",
                    },
                    e.action,
                    e.role,
                    e.who,
                    e.document.as_deref().unwrap_or("-"),
                    e.purpose.as_deref().unwrap_or("-"),
                    e.grant.map(|g| format!(" grant {g}")).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
