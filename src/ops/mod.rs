//! Operations that keep a deployment's data whole: `huiqian backup`, `restore` and
//! `copy` (SQLite to PostgreSQL). Each checks what it produced before it reports success:
//! table checksums, SQLite's integrity check and the audit chain (`huiqian audit verify`).
//!
//! A deployment is three things that only work together: the database, the attachments
//! folder (`<data>/attachments`, files named by their SHA-256) and the secret key that
//! encrypted the personal data and keys the lookup hashes (`HUIQIAN_SECRET_KEY`, or
//! `<data>/secret.key`). A backup holds all three, or says loudly which one it lacks.

pub mod backup;
pub mod copy;
pub mod lock;
pub mod restore;

use crate::config::Config;
use crate::store::tables::{self, Summary};
use crate::store::{Backend, Store};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The SQLite database's file name in the data folder.
pub const DB_FILE: &str = "huiqian.db";
pub use crate::app::audit::CHECKPOINTS_FILE;

/// The generated secret key's file name in the data folder.
pub const KEY_FILE: &str = "secret.key";
/// The attachments folder's name in the data folder.
pub const ATTACHMENTS_DIR: &str = "attachments";

/// The files SQLite keeps beside a database: the write-ahead log and its index. They
/// belong to that database file and to no other.
pub fn sqlite_companions(db: &Path) -> [PathBuf; 2] {
    let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    [db.with_file_name(format!("{name}-wal")), db.with_file_name(format!("{name}-shm"))]
}

/// A short, non-reversible name for a secret key (the first 16 hex digits of an HMAC
/// under the key), printed and recorded so that a key and a backup can be matched
/// without showing the key.
pub fn key_fingerprint(key_base64: &str) -> Result<String, BoxError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key_base64.trim())
        .map_err(|_| crate::crypto::SecretError::BadKey)?;
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&raw).expect("any key length");
    m.update(b"huiqian/fingerprint/v1");
    Ok(hex::encode(&m.finalize().into_bytes()[..8]))
}

/// Where the secret key of a configuration comes from.
pub enum KeySource {
    /// `HUIQIAN_SECRET_KEY` or `secret_key` in the config file.
    Configured(String),
    /// `<data>/secret.key`, with its text.
    File(PathBuf, String),
    /// No key yet (a data folder never started).
    Missing(PathBuf),
}

impl KeySource {
    pub fn of(cfg: &Config) -> Result<KeySource, BoxError> {
        if !cfg.secret_key.is_empty() {
            return Ok(KeySource::Configured(cfg.secret_key.clone()));
        }
        let path = cfg.data.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(KeySource::File(path, text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeySource::Missing(path)),
            Err(e) => Err(format!("cannot read {}: {e}", path.display()).into()),
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            KeySource::Configured(k) | KeySource::File(_, k) => Some(k),
            KeySource::Missing(_) => None,
        }
    }
}

/// What a backup holds, written first into the archive as `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// `huiqian-backup/1`.
    pub format: String,
    pub huiqian_version: String,
    /// When the database snapshot was taken, epoch ms UTC.
    pub taken_at: i64,
    /// `sqlite` (the database is in the archive) or `postgres` (taken with pg_dump).
    pub backend: String,
    /// The migrations the database had applied.
    pub migrations: Vec<i64>,
    /// Rows and checksum of every table of the snapshot (SQLite only).
    pub tables: BTreeMap<String, Summary>,
    /// The audit chain's length and last hash at the snapshot (SQLite only).
    pub audit_entries: i64,
    pub audit_head: String,
    /// Attachment files in the archive and their total size.
    pub attachments: u64,
    pub attachment_bytes: u64,
    /// Whether `secret.key` is in the archive, and the fingerprint of the key the data
    /// needs (whether or not it is included).
    pub key_included: bool,
    pub key_fingerprint: Option<String>,
}

pub const FORMAT: &str = "huiqian-backup/1";

/// What a SQLite database file holds: its tables' summaries, the audit head and the
/// migrations, read after checking its integrity.
pub struct Snapshot {
    pub tables: BTreeMap<String, Summary>,
    pub audit_entries: i64,
    pub audit_head: String,
    /// Each chain of the audit trail and how many entries it has.
    pub audit_chains: BTreeMap<i64, i64>,
    pub migrations: Vec<i64>,
    /// SHA-256 of every attachment the database refers to.
    pub attachment_hashes: Vec<String>,
}

/// Check a SQLite database file (`PRAGMA integrity_check`) and summarise it, without
/// changing it: opened without migrating, closed (and checkpointed) afterwards.
pub async fn inspect_sqlite(db: &Path) -> Result<Snapshot, BoxError> {
    let store = Store::connect(&format!("sqlite://{}", db.display()), false).await?;
    let result = async {
        let mut c = store.read().acquire().await?;
        let problems = tables::sqlite_integrity(&mut c).await?;
        if !problems.is_empty() {
            return Err(format!("{} fails SQLite's integrity check:\n  {}", db.display(), problems.join("\n  ")).into());
        }
        let list = tables::tables(&mut c, Backend::Sqlite).await?;
        let summaries = tables::summarise_all(&mut c, &list).await?;
        let (audit_entries, audit_head) = crate::store::audit::head(store.read()).await?;
        let audit_chains =
            crate::store::audit::heads(store.read()).await?.into_iter().map(|h| (h.chain, h.seq)).collect();
        let migrations = tables::migration_versions(&mut c).await?;
        let attachment_hashes = tables::attachment_hashes(&mut c).await?;
        Ok::<_, BoxError>(Snapshot {
            tables: summaries,
            audit_entries,
            audit_head,
            audit_chains,
            migrations,
            attachment_hashes,
        })
    }
    .await;
    store.close().await;
    result
}

/// Is `name` an attachment's file name (64 lower-case hex digits)?
pub fn is_attachment_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The attachment files under `dir` (`ab/cd/<sha256>`), skipping half-written temporary
/// files; sorted.
pub fn attachment_files(dir: &Path) -> Result<Vec<(String, PathBuf, u64)>, BoxError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && is_attachment_name(&name) {
                out.push((name, entry.path(), entry.metadata()?.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The relative path of an attachment in the data folder and in a backup.
pub fn attachment_path(sha256: &str) -> String {
    format!("{ATTACHMENTS_DIR}/{}/{}/{sha256}", &sha256[..2], &sha256[2..4])
}

/// Flush a folder's entries (renames into it) to disk.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The result of `huiqian audit verify` on an opened deployment, as one line, or an
/// error with the problems found.
pub async fn verify_audit(app: &crate::app::App) -> Result<String, BoxError> {
    let r = crate::app::audit::verify(app, &[]).await.map_err(|e| e.to_string())?;
    if r.ok() {
        Ok(format!(
            "audit trail intact: {} entries, {} sheet events and {} checkpoints verified",
            r.checked, r.events, r.checkpoints
        ))
    } else {
        let problems: Vec<String> = r.problems.iter().map(|p| format!("[{}] {}", p.damage.label(), p.text)).collect();
        Err(format!("audit trail damaged ({} entries read):\n  - {}", r.checked, problems.join("\n  - ")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_name_a_key_without_showing_it() {
        let a = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let f = key_fingerprint(a).unwrap();
        assert_eq!(f.len(), 16);
        assert_eq!(f, key_fingerprint(&format!("{a}\n")).unwrap(), "a trailing newline is the same key");
        assert_ne!(f, key_fingerprint("MTEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap());
        assert!(!a.contains(&f));
        assert!(key_fingerprint("not base64!").is_err());
    }

    #[test]
    fn attachment_names_are_hashes_only() {
        assert!(is_attachment_name(&"ab".repeat(32)));
        assert!(!is_attachment_name(&format!(".{}", "ab".repeat(32))));
        assert!(!is_attachment_name(&"AB".repeat(32)));
        assert!(!is_attachment_name("../../etc/passwd"));
        assert_eq!(attachment_path(&"ab".repeat(32)), format!("attachments/ab/ab/{}", "ab".repeat(32)));
    }

    #[test]
    fn companions_of_a_database_file() {
        let [wal, shm] = sqlite_companions(Path::new("/d/huiqian.db"));
        assert_eq!(wal, Path::new("/d/huiqian.db-wal"));
        assert_eq!(shm, Path::new("/d/huiqian.db-shm"));
    }
}
