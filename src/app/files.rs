//! Attachments: checked for type and size, stored content-addressed beside the database.
//! A file is written to a temporary name and renamed into place only when complete, and
//! its row is written in the same transaction as the sheet event that uses it, so a
//! half-written upload never becomes part of a sheet.

use super::{App, AppError, AppResult};
use huiqian_domain::validation::ValidationError;
use std::io::Write;
use std::path::PathBuf;

/// A file accepted for storage.
#[derive(Debug, Clone)]
pub struct Stored {
    pub sha256: String,
    pub size: i64,
    pub mime: &'static str,
}

/// Recognise the file by its first bytes; the name's extension is not trusted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| bytes.starts_with(p);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() > 12
        && &bytes[4..8] == b"ftyp"
        && matches!(&bytes[8..12], b"heic" | b"heix" | b"mif1" | b"msf1")
    {
        Some("image/heic")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else if starts(b"PK\x03\x04") {
        Some("application/zip")
    } else if starts(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some("application/msword")
    } else {
        None
    }
}

fn dir(app: &App) -> PathBuf {
    app.config.data.join("attachments")
}

/// Where a stored file lives: `attachments/ab/cd/<sha256>`.
pub fn path_of(app: &App, sha256: &str) -> PathBuf {
    dir(app).join(&sha256[..2]).join(&sha256[2..4]).join(sha256)
}

/// Check and store a file. Images, PDF and office documents only; at most the
/// configured upload size.
pub fn store(app: &App, field: &str, bytes: &[u8]) -> AppResult<Stored> {
    let limit = app.config.limits.max_upload_bytes;
    if bytes.is_empty() {
        return Err(AppError::field(field, ValidationError::new("upload.empty")));
    }
    if bytes.len() > limit {
        return Err(AppError::field(
            field,
            ValidationError::new("upload.too_large").with("max_mb", limit / 1024 / 1024),
        ));
    }
    let mime = sniff(bytes).ok_or_else(|| AppError::field(field, ValidationError::new("upload.type")))?;
    let sha256 = crate::crypto::sha256_hex(bytes);
    let path = path_of(app, &sha256);
    if !path.exists() {
        let parent = path.parent().expect("nested path");
        std::fs::create_dir_all(parent)?;
        let tmp = parent.join(format!(".{sha256}.{}", uuid::Uuid::new_v4().simple()));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
            .and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            // A full disk leaves no partial file behind.
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    }
    Ok(Stored { sha256, size: bytes.len() as i64, mime })
}

/// Decode a signature drawn on a canvas (`data:image/png;base64,…`).
pub fn signature_png(data_url: &str) -> Result<Vec<u8>, ValidationError> {
    use base64::Engine;
    let b64 = data_url
        .trim()
        .strip_prefix("data:image/png;base64,")
        .ok_or_else(|| ValidationError::new("signature.format"))?;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| ValidationError::new("signature.format"))?;
    if sniff(&bytes) != Some("image/png") {
        return Err(ValidationError::new("signature.format"));
    }
    Ok(bytes)
}

pub fn read(app: &App, sha256: &str) -> AppResult<Vec<u8>> {
    std::fs::read(path_of(app, sha256)).map_err(|e| AppError::Internal(e.to_string()))
}
