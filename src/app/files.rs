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

/// What an upload is for, and so what it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A photo: a PNG, JPEG or WebP image that decodes.
    Photo,
    /// A file or piece of evidence: such an image, a complete PDF or an Office document.
    Document,
    /// A signature drawn on the screen: a PNG that decodes.
    Signature,
}

/// The largest image accepted, in pixels (a 48-megapixel phone photo fits).
const MAX_PIXELS: u64 = 50_000_000;

/// Recognise the file by its first bytes; the name's extension is not trusted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| bytes.starts_with(p);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
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

/// Check that a file is what its first bytes claim, for its purpose: an image must decode
/// in full (a PDF or a page of HTML behind a PNG header does not), a PDF must end as a PDF
/// does, an Office document must be a whole archive. Returns the type it is stored as.
pub fn check(bytes: &[u8], purpose: Purpose) -> Result<&'static str, ValidationError> {
    let mime = sniff(bytes).ok_or_else(|| ValidationError::new("upload.type"))?;
    let image = matches!(mime, "image/png" | "image/jpeg" | "image/webp");
    match purpose {
        Purpose::Photo if !image => return Err(ValidationError::new("upload.photo_type")),
        Purpose::Signature if mime != "image/png" => return Err(ValidationError::new("signature.format")),
        _ => {}
    }
    if image {
        decode_image(bytes, mime).map_err(|_| match purpose {
            Purpose::Signature => ValidationError::new("signature.format"),
            _ => ValidationError::new("upload.not_an_image").with("type", &mime[6..]),
        })?;
    }
    let tail = &bytes[bytes.len().saturating_sub(65_557)..];
    let complete = match mime {
        // The end-of-file marker, within the last kilobytes (writers may add a newline).
        "application/pdf" => bytes[bytes.len().saturating_sub(2048)..].windows(5).any(|w| w == b"%%EOF"),
        // The end of the zip's central directory (docx, xlsx, pptx).
        "application/zip" => tail.windows(4).any(|w| w == b"PK\x05\x06"),
        _ => true,
    };
    if !complete {
        return Err(ValidationError::new("upload.incomplete").with("type", mime));
    }
    Ok(mime)
}

fn decode_image(bytes: &[u8], mime: &str) -> Result<(), image::ImageError> {
    let format = match mime {
        "image/png" => image::ImageFormat::Png,
        "image/jpeg" => image::ImageFormat::Jpeg,
        _ => image::ImageFormat::WebP,
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits.clone());
    let (w, h) = reader.into_dimensions()?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(image::ImageError::Limits(image::error::LimitError::from_kind(
            image::error::LimitErrorKind::DimensionError,
        )));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits);
    reader.decode().map(|_| ())
}

fn dir(app: &App) -> PathBuf {
    app.config.data.join("attachments")
}

/// Where a stored file lives: `attachments/ab/cd/<sha256>`.
pub fn path_of(app: &App, sha256: &str) -> PathBuf {
    dir(app).join(&sha256[..2]).join(&sha256[2..4]).join(sha256)
}

/// Check and store a file for its purpose (see [`check`]); at most the configured upload
/// size.
pub fn store(app: &App, field: &str, bytes: &[u8], purpose: Purpose) -> AppResult<Stored> {
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
    let mime = check(bytes, purpose).map_err(|e| AppError::field(field, e))?;
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
    check(&bytes, Purpose::Signature)?;
    Ok(bytes)
}

/// The bytes of a file sent as a data URL (`data:application/pdf;base64,…`, an image):
/// its type is then checked from the bytes by [`store`], not taken from the URL.
pub fn data_url(data_url: &str) -> Result<Vec<u8>, ValidationError> {
    use base64::Engine;
    let b64 = data_url
        .trim()
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .map(|(_, b64)| b64)
        .ok_or_else(|| ValidationError::new("upload.type"))?;
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| ValidationError::new("upload.type"))
}

pub fn read(app: &App, sha256: &str) -> AppResult<Vec<u8>> {
    std::fs::read(path_of(app, sha256)).map_err(|e| AppError::Internal(e.to_string()))
}
