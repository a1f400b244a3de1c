//! handover: an encrypted vault for child-protection case papers, and their
//! signed, encrypted hand-over from one state department to another.
//!
//! Data flows one way: the faces (`cli`, `api`, `web`) → `vault` → (`policy`,
//! `audit`, `store`, `crypto`, `bundle`), over the plain types of `domain`,
//! with settings from `config`; `durable` replaces files crash-safely. The
//! map, its invariants and where each rule lives: docs/ARCHITECTURE.md
//! (enforced by `tests/boundaries.rs`).

pub mod api;
pub mod audit;
pub mod bundle;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod durable;
pub mod policy;
pub mod store;
pub mod vault;
pub mod web;
