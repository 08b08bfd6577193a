//! The data folder's lock: every `huiqian serve` holds it shared, and what replaces or
//! moves a deployment wholesale (`restore`, `copy`) holds it exclusively — so that a
//! restore never overwrites a database a server is writing to, and no server starts on
//! a folder being restored.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file's name in the data folder.
pub const LOCK_FILE: &str = "huiqian.lock";

/// A held lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct DataLock {
    _file: File,
    pub path: PathBuf,
}

fn open(data: &Path) -> Result<(File, PathBuf), String> {
    std::fs::create_dir_all(data).map_err(|e| format!("cannot create data folder {}: {e}", data.display()))?;
    let path = data.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok((file, path))
}

/// Taken by a server: several may share a folder (several servers on one PostgreSQL
/// with a shared attachments folder), none while a restore or copy runs.
pub fn shared(data: &Path) -> Result<DataLock, String> {
    let (file, path) = open(data)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(DataLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(format!(
            "a restore or copy is working on the data folder {}; start huiqian when it has finished",
            data.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// Taken by `restore` and `copy`: refused while any server runs on the folder.
pub fn exclusive(data: &Path, doing: &str) -> Result<DataLock, String> {
    let (file, path) = open(data)?;
    match file.try_lock() {
        Ok(()) => Ok(DataLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(format!(
            "huiqian is running on the data folder {} (it holds {}); stop it before you {doing}",
            data.display(),
            path.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}
