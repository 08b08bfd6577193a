//! `huiqian backup --to FILE`: one file holding a consistent copy of the database taken
//! while huiqian serves (SQLite's `VACUUM INTO`), the attachments and the secret key,
//! with a manifest of what is in it. On PostgreSQL the database is PostgreSQL's to copy
//! (`pg_dump`, printed); the file then holds the attachments and the key.

use super::{
    ATTACHMENTS_DIR, BoxError, CHECKPOINTS_FILE, DB_FILE, FORMAT, KEY_FILE, KeySource, Manifest, attachment_files,
    attachment_path, inspect_sqlite, key_fingerprint, sync_dir,
};
use crate::config::Config;
use crate::store::Backend;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Options {
    pub to: PathBuf,
    /// Leave the secret key file out (for a copy kept off site, the key kept apart).
    pub without_key: bool,
}

/// What `backup` wrote.
#[derive(Debug)]
pub struct Written {
    pub manifest: Manifest,
    pub bytes: u64,
    /// Attachments the database refers to but the attachments folder lacks.
    pub missing_attachments: Vec<String>,
    pub checkpointed: bool,
}

#[tracing::instrument(name = "backup", skip_all, fields(without_key = opts.without_key))]
pub async fn run(cfg: &Config, opts: &Options) -> Result<Written, BoxError> {
    let to = &opts.to;
    if to.exists() {
        return Err(format!("{} exists; choose a new file (a backup never overwrites another)", to.display()).into());
    }
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(format!("the folder {} does not exist", parent.display()).into());
    }
    let app = crate::cli::open(cfg.clone()).await?;
    let key = KeySource::of(cfg)?;
    let work = tempfile::Builder::new()
        .prefix(".huiqian-backup-")
        .tempdir_in(&parent)
        .map_err(|e| format!("cannot write in {}: {e}", parent.display()))?;
    let backend = app.store.backend();
    let mut manifest = Manifest {
        format: FORMAT.into(),
        huiqian_version: env!("CARGO_PKG_VERSION").into(),
        taken_at: app.clock.now(),
        backend: backend.name().into(),
        migrations: vec![],
        tables: Default::default(),
        audit_entries: 0,
        audit_head: String::new(),
        attachments: 0,
        attachment_bytes: 0,
        key_included: false,
        key_fingerprint: key.text().map(key_fingerprint).transpose()?,
    };
    let mut referenced = Vec::new();
    let mut checkpointed = true;
    let mut chain_heads = std::collections::BTreeMap::new();
    let snapshot = work.path().join(DB_FILE);
    if backend == Backend::Sqlite {
        app.store.backup_sqlite(&snapshot.display().to_string()).await?;
        checkpointed = app.store.checkpoint().await?;
        let snap = inspect_sqlite(&snapshot).await?;
        manifest.tables = snap.tables;
        manifest.audit_entries = snap.audit_entries;
        manifest.audit_head = snap.audit_head;
        chain_heads = snap.audit_chains;
        manifest.migrations = snap.migrations;
        referenced = snap.attachment_hashes;
    } else {
        let mut c = app.store.read().acquire().await?;
        manifest.migrations = crate::store::tables::migration_versions(&mut c).await?;
    }
    app.store.close().await;
    // Attachments are written before the row that refers to them commits and are never
    // deleted, so every file the snapshot refers to is already there.
    let files = attachment_files(&cfg.data.join(ATTACHMENTS_DIR))?;
    let present: std::collections::BTreeSet<&str> = files.iter().map(|(n, _, _)| n.as_str()).collect();
    let missing_attachments: Vec<String> = referenced.into_iter().filter(|h| !present.contains(h.as_str())).collect();
    manifest.attachments = files.len() as u64;
    manifest.attachment_bytes = files.iter().map(|(_, _, len)| len).sum();
    let key_text = match (&key, opts.without_key) {
        (KeySource::File(_, text), false) => Some(text.clone()),
        _ => None,
    };
    manifest.key_included = key_text.is_some();
    // The audit trail's checkpoints go with the database they vouch for: those up to the
    // snapshot's last entry (a later one would read as a truncation once restored).
    let checkpoints = std::fs::read_to_string(cfg.data.join(CHECKPOINTS_FILE)).ok().map(|text| {
        text.lines()
            .filter(|l| {
                backend != Backend::Sqlite
                    || crate::app::audit::Checkpoint::place_of(l)
                        .is_some_and(|(chain, seq)| chain_heads.get(&chain).is_some_and(|h| seq <= *h))
            })
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    });
    let partial = work.path().join("backup.partial");
    let db = (backend == Backend::Sqlite).then_some(snapshot);
    let m = manifest.clone();
    let target = partial.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        write_archive(&target, &m, db.as_deref(), &files, key_text.as_deref(), checkpoints.as_deref())
    })
    .await??;
    std::fs::rename(&partial, to).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    sync_dir(&parent);
    tracing::info!(bytes, missing_attachments = missing_attachments.len(), checkpointed, "backup written");
    Ok(Written { manifest, bytes, missing_attachments, checkpointed })
}

fn write_archive(
    path: &Path,
    manifest: &Manifest,
    db: Option<&Path>,
    files: &[(String, PathBuf, u64)],
    key: Option<&str>,
    checkpoints: Option<&str>,
) -> Result<u64, BoxError> {
    use zip::write::SimpleFileOptions;
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        // The file holds the personal data, and usually the key that reads it.
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let file = open.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("manifest.json", deflated)?;
    zip.write_all(&serde_json::to_vec_pretty(manifest)?)?;
    if let Some(db) = db {
        zip.start_file(DB_FILE, deflated.large_file(true))?;
        let mut f = std::fs::File::open(db)?;
        std::io::copy(&mut f, &mut zip)?;
    }
    if let Some(key) = key {
        zip.start_file(KEY_FILE, deflated.unix_permissions(0o600))?;
        zip.write_all(key.as_bytes())?;
    }
    if let Some(lines) = checkpoints {
        zip.start_file(CHECKPOINTS_FILE, deflated)?;
        zip.write_all(lines.as_bytes())?;
    }
    for (name, file, len) in files {
        // Photos and PDFs are compressed already.
        zip.start_file(attachment_path(name), stored.large_file(*len >= u64::from(u32::MAX)))?;
        let mut f = std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        std::io::copy(&mut f, &mut zip)?;
    }
    let out = zip.finish()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// The report `huiqian backup` prints.
pub fn describe(w: &Written, to: &Path, cfg: &Config) -> String {
    use std::fmt::Write as _;
    let m = &w.manifest;
    let mut s = String::new();
    let _ = writeln!(s, "backup written to {} ({})", to.display(), human_bytes(w.bytes));
    if m.backend == "sqlite" {
        let rows: i64 = m.tables.values().map(|t| t.rows).sum();
        let _ = writeln!(
            s,
            "  database: a consistent SQLite copy taken at {} while running; {} tables, {rows} rows, \
             audit trail of {} entries; it passed SQLite's integrity check",
            when(m.taken_at),
            m.tables.len(),
            m.audit_entries
        );
        let _ = writeln!(
            s,
            "  write-ahead log: {}",
            if w.checkpointed {
                "checkpointed and truncated"
            } else {
                "checkpoint held back by a long read; it completes at the next one"
            }
        );
    } else {
        let _ = writeln!(
            s,
            "  database: NOT in this file. PostgreSQL's own tool takes it, consistently while huiqian runs;\n  \
             run it now and keep its file with this one:\n\n    \
             pg_dump --format=custom --file={}.pgdump \"$HUIQIAN_DATABASE_URL\"\n",
            to.display()
        );
    }
    let _ = writeln!(s, "  attachments: {} files ({})", m.attachments, human_bytes(m.attachment_bytes));
    if !w.missing_attachments.is_empty() {
        let _ = writeln!(
            s,
            "  WARNING: {} attachments the database refers to are missing from {} (already lost there): {}",
            w.missing_attachments.len(),
            cfg.data.join(ATTACHMENTS_DIR).display(),
            w.missing_attachments.join(", ")
        );
    }
    let fp = m.key_fingerprint.as_deref().unwrap_or("none");
    if m.key_included {
        let _ = writeln!(
            s,
            "  secret key: included (fingerprint {fp}). This file can read the personal data in it: keep it as safe \
             as the server itself."
        );
    } else {
        let whence = if cfg.secret_key.is_empty() {
            format!("{} (left out with --without-key)", cfg.data.join(KEY_FILE).display())
        } else {
            "HUIQIAN_SECRET_KEY / the config file's secret_key".to_string()
        };
        let _ = writeln!(
            s,
            "  !!! secret key: NOT in this file. It is in {whence}, fingerprint {fp}.\n  \
             !!! Keep that key with this backup: without it the ID and phone numbers in it cannot be read,\n  \
             !!! lookups by number stop matching and the restore cannot check the audit trail."
        );
    }
    s
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

pub(crate) fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 {
        format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64)
    } else if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}
