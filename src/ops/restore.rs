//! `huiqian restore --from FILE --data DIR`: put a backup back. Everything is unpacked
//! beside the deployment first and checked there — every attachment against its hash,
//! the database against SQLite's integrity check and the backup's table checksums, the
//! audit chain with `audit verify` — and only then moved into place. A deployment that
//! is running is never touched; one that holds data is only replaced with `--force`,
//! and then what it held (database with its write-ahead log, attachments, key) is moved
//! aside, not deleted.

use super::{
    ATTACHMENTS_DIR, BoxError, CHECKPOINTS_FILE, DB_FILE, FORMAT, KEY_FILE, Manifest, inspect_sqlite,
    is_attachment_name, key_fingerprint, sqlite_companions, sync_dir, verify_audit,
};
use crate::config::Config;
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct Options {
    pub from: PathBuf,
    /// Replace a deployment that holds data (it is moved aside).
    pub force: bool,
}

/// What `restore` did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub rows: i64,
    pub attachments: u64,
    pub audit: String,
    /// Migrations applied to bring an older backup up to this version.
    pub upgraded: Vec<i64>,
    /// Where the replaced deployment's files went (with `--force`).
    pub moved_aside: Option<PathBuf>,
    pub key: String,
}

fn read_manifest(zip: &mut zip::ZipArchive<std::fs::File>) -> Result<Manifest, BoxError> {
    let mut text = String::new();
    zip.by_name("manifest.json").map_err(|_| "not a huiqian backup (no manifest.json)")?.read_to_string(&mut text)?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| format!("the backup's manifest is damaged: {e}"))?;
    if m.format != FORMAT {
        return Err(format!("backup format {:?} is not one this huiqian reads ({FORMAT})", m.format).into());
    }
    Ok(m)
}

/// What a restore would replace: the database file with its log, attachments, the key,
/// and the audit trail's checkpoints (they vouch for the database being replaced).
fn occupied(data: &Path, db: Option<&Path>, replace_key: bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = match db {
        Some(db) => std::iter::once(db.to_path_buf()).chain(sqlite_companions(db)).filter(|p| p.exists()).collect(),
        None => vec![],
    };
    let att = data.join(ATTACHMENTS_DIR);
    if std::fs::read_dir(&att).is_ok_and(|mut d| d.next().is_some()) {
        found.push(att);
    }
    if replace_key && data.join(KEY_FILE).exists() {
        found.push(data.join(KEY_FILE));
    }
    if data.join(CHECKPOINTS_FILE).exists() {
        found.push(data.join(CHECKPOINTS_FILE));
    }
    found
}

#[tracing::instrument(name = "restore", skip_all, fields(force = opts.force))]
pub async fn run(cfg: &Config, opts: &Options) -> Result<Restored, BoxError> {
    let data = cfg.data.clone();
    let file = std::fs::File::open(&opts.from).map_err(|e| format!("cannot open {}: {e}", opts.from.display()))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| format!("{} is not a huiqian backup: {e}", opts.from.display()))?;
    let manifest = read_manifest(&mut zip)?;
    let has_db = manifest.backend == "sqlite";
    // Where the database goes: the data folder's huiqian.db, or the SQLite file configured.
    let target_db = match (has_db, crate::store::sqlite_path(&cfg.effective_database_url())) {
        (true, Some(p)) => Some(PathBuf::from(p)),
        (true, None) => {
            return Err("this backup holds a SQLite database; restore it without a PostgreSQL --database-url \
                        (and move it to PostgreSQL afterwards with huiqian copy)"
                .into());
        }
        (false, _) => None,
    };
    let _lock = super::lock::exclusive(&data, "restore into it")?;

    // The key the restored data needs.
    let configured = (!cfg.secret_key.is_empty()).then(|| cfg.secret_key.clone());
    let in_archive = if manifest.key_included {
        let mut k = String::new();
        zip.by_name(KEY_FILE)
            .map_err(|_| "the manifest lists secret.key but the backup lacks it")?
            .read_to_string(&mut k)?;
        Some(k)
    } else {
        None
    };
    let existing_key = std::fs::read_to_string(data.join(KEY_FILE)).ok();
    let want = manifest.key_fingerprint.clone();
    let matches = |k: &str| key_fingerprint(k).ok() == want;
    let (key_text, key_desc, write_key) = match (&configured, &in_archive, &existing_key) {
        (Some(k), _, _) if want.is_some() && !matches(k) => {
            return Err(format!(
                "the configured secret key (fingerprint {}) is not the key of this backup (fingerprint {}): the \
                 restored personal data could not be read. Restore with the backup's key.",
                key_fingerprint(k).unwrap_or_default(),
                want.unwrap_or_default()
            )
            .into());
        }
        (Some(k), _, _) => (k.clone(), "the configured secret key (matches the backup)".to_string(), false),
        (None, Some(k), Some(e)) if key_fingerprint(e).ok() == key_fingerprint(k).ok() => {
            (e.clone(), format!("the secret.key already in {} (the backup's own)", data.display()), false)
        }
        (None, Some(k), _) => {
            (k.clone(), format!("secret.key from the backup, written to {}", data.join(KEY_FILE).display()), true)
        }
        (None, None, Some(k)) if want.is_none() || matches(k) => {
            (k.clone(), format!("the secret.key already in {} (matches the backup)", data.display()), false)
        }
        _ => {
            return Err(format!(
                "this backup was taken without its secret key (fingerprint {}). Provide that key with \
                 HUIQIAN_SECRET_KEY, or put it in {}, and restore again.",
                want.unwrap_or_else(|| "unknown".into()),
                data.join(KEY_FILE).display()
            )
            .into());
        }
    };

    let in_the_way = occupied(&data, target_db.as_deref(), write_key);
    if !in_the_way.is_empty() && !opts.force {
        return Err(format!(
            "{} already holds a deployment ({}). Restore into an empty folder, or add --force to replace it \
             (what is there is moved aside into a folder replaced-<time>, not deleted).",
            data.display(),
            in_the_way.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )
        .into());
    }

    // Unpack beside the deployment (same file system: the final moves are renames).
    let staging = tempfile::Builder::new().prefix(".restore-").tempdir_in(&data)?;
    let stage = staging.path().to_path_buf();
    let attachments = tokio::task::spawn_blocking(move || unpack(zip, &stage)).await??;
    if attachments != manifest.attachments {
        return Err(format!(
            "the backup's manifest lists {} attachments but it holds {attachments}",
            manifest.attachments
        )
        .into());
    }

    let mut rows = 0;
    let mut upgraded = vec![];
    let mut audit = String::from("no database in this backup");
    if has_db {
        let db = staging.path().join(DB_FILE);
        let snap = inspect_sqlite(&db).await?;
        if snap.tables != manifest.tables {
            let differ: Vec<&String> = manifest
                .tables
                .iter()
                .filter(|(t, s)| snap.tables.get(*t) != Some(*s))
                .map(|(t, _)| t)
                .chain(snap.tables.keys().filter(|t| !manifest.tables.contains_key(*t)))
                .collect();
            return Err(format!("the restored tables differ from the backup's record: {differ:?}").into());
        }
        let present: std::collections::BTreeSet<String> =
            super::attachment_files(&staging.path().join(ATTACHMENTS_DIR))?.into_iter().map(|(n, _, _)| n).collect();
        let lost: Vec<&String> = snap.attachment_hashes.iter().filter(|h| !present.contains(*h)).collect();
        if !lost.is_empty() {
            eprintln!(
                "huiqian: WARNING: {} attachments the database refers to are not in the backup (they were missing \
                 when it was taken): {lost:?}",
                lost.len()
            );
        }
        rows = snap.tables.values().map(|s| s.rows).sum();
        // Open it as huiqian will: migrations bring an older backup up to date, then the
        // audit chain is verified with the key.
        let mut check = cfg.clone();
        check.data = staging.path().to_path_buf();
        check.database_url = String::new();
        check.secret_key = key_text.trim().to_string();
        let app = crate::cli::open_with(check, false).await?;
        let versions = {
            let mut c = app.store.read().acquire().await?;
            crate::store::tables::migration_versions(&mut c).await?
        };
        upgraded = versions.into_iter().filter(|v| !manifest.migrations.contains(v)).collect();
        let verified = verify_audit(&app).await;
        app.store.close().await;
        audit = verified?;
    }

    // Checked: move what is there aside, then the restored files into place.
    let mut moved_aside = None;
    if !in_the_way.is_empty() {
        let aside = data.join(format!("replaced-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
        std::fs::create_dir(&aside).map_err(|e| format!("cannot create {}: {e}", aside.display()))?;
        for p in &in_the_way {
            let name = p.file_name().expect("file in the data folder");
            std::fs::rename(p, aside.join(name)).map_err(|e| format!("cannot move {} aside: {e}", p.display()))?;
        }
        sync_dir(&aside);
        moved_aside = Some(aside);
    }
    let staged_db = staging.path().join(DB_FILE);
    if let Some(target) = &target_db {
        // The database and whatever log it still has go together (a clean close leaves none).
        for (from, to) in std::iter::once((staged_db.clone(), target.clone()))
            .chain(sqlite_companions(&staged_db).into_iter().zip(sqlite_companions(target)))
        {
            if from.exists() {
                std::fs::rename(&from, &to)
                    .map_err(|e| format!("cannot move the database to {}: {e}", to.display()))?;
            }
        }
        if let Some(parent) = target.parent() {
            sync_dir(parent);
        }
    }
    let staged_att = staging.path().join(ATTACHMENTS_DIR);
    if staged_att.exists() {
        let target = data.join(ATTACHMENTS_DIR);
        if target.exists() {
            // Without --force there was nothing in it; with it, it was moved aside.
            std::fs::remove_dir(&target).map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
        }
        std::fs::rename(&staged_att, &target)?;
    }
    if write_key {
        let staged_key = staging.path().join(KEY_FILE);
        std::fs::rename(&staged_key, data.join(KEY_FILE))?;
    }
    let staged_checkpoints = staging.path().join(CHECKPOINTS_FILE);
    if staged_checkpoints.exists() {
        std::fs::rename(&staged_checkpoints, data.join(CHECKPOINTS_FILE))?;
    }
    sync_dir(&data);
    drop(staging);
    tracing::info!(rows, attachments, upgraded = upgraded.len(), replaced = moved_aside.is_some(), "backup restored");
    Ok(Restored { manifest, rows, attachments, audit, upgraded, moved_aside, key: key_desc })
}

/// Unpack the archive into `dir`, accepting only the names a backup has and checking
/// each attachment against its hash. Returns the attachments unpacked.
fn unpack(mut zip: zip::ZipArchive<std::fs::File>, dir: &Path) -> Result<u64, BoxError> {
    use sha2::{Digest, Sha256};
    let mut attachments = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = entry.name().to_string();
        if entry.is_dir() || name == "manifest.json" {
            continue;
        }
        let parts: Vec<&str> = name.split('/').collect();
        let (target, hash) = match parts.as_slice() {
            [f] if *f == DB_FILE || *f == KEY_FILE || *f == CHECKPOINTS_FILE => (dir.join(f), None),
            [a, x, y, h] if *a == ATTACHMENTS_DIR && is_attachment_name(h) && h[..2] == **x && h[2..4] == **y => {
                (dir.join(a).join(x).join(y).join(h), Some(h.to_string()))
            }
            _ => return Err(format!("the backup holds an unexpected entry {name:?}").into()),
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&target)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            std::io::Write::write_all(&mut out, &buf[..n])?;
        }
        out.sync_all()?;
        if let Some(h) = hash {
            if hex::encode(hasher.finalize()) != h {
                return Err(
                    format!("attachment {h} in the backup is damaged (its content does not match its hash)").into()
                );
            }
            attachments += 1;
        }
        #[cfg(unix)]
        if name == KEY_FILE {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(attachments)
}

/// The report `huiqian restore` prints.
pub fn describe(r: &Restored, data: &Path, from: &Path) -> String {
    use std::fmt::Write as _;
    let m = &r.manifest;
    let mut s = String::new();
    let taken = chrono::DateTime::from_timestamp_millis(m.taken_at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "restored {} (taken {taken} by huiqian {}) into {}",
        from.display(),
        m.huiqian_version,
        data.display()
    );
    if m.backend == "sqlite" {
        let _ = writeln!(
            s,
            "  database: {} tables, {} rows, each table equal to the backup's checksum; SQLite's integrity check passed",
            m.tables.len(),
            r.rows
        );
        if !r.upgraded.is_empty() {
            let _ = writeln!(s, "  schema brought up to date: migrations {:?} applied", r.upgraded);
        }
        let _ = writeln!(s, "  {}", r.audit);
    } else {
        let _ = writeln!(
            s,
            "  database: not in this file (PostgreSQL). Restore it from the pg_dump file taken with it:\n\n    \
             pg_restore --clean --if-exists --no-owner --dbname=\"$HUIQIAN_DATABASE_URL\" {}.pgdump\n\n  \
             then run huiqian audit verify.",
            from.display()
        );
    }
    let _ = writeln!(s, "  attachments: {} files, each checked against its hash", r.attachments);
    let _ = writeln!(s, "  secret key: {}", r.key);
    if let Some(a) = &r.moved_aside {
        let _ =
            writeln!(s, "  the deployment that was there was moved to {} (delete it once you are sure)", a.display());
    }
    s
}
