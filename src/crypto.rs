//! Keys and the cryptography huiqian uses: personal data encrypted at rest, keyed hashes
//! for exact lookup without decrypting, random tokens, and the audit chain's digest.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Keys derived from the one configured secret: one to encrypt, one to key lookup hashes,
/// one to seal the audit chain.
#[derive(Clone)]
pub struct Secrets {
    enc: [u8; 32],
    lookup: [u8; 32],
    audit: AuditKey,
}

/// The audit chain's key (HMAC-SHA-256). It is derived from the secret key, which lives in
/// the configuration or the data folder and never in the database, so that someone who can
/// only write to the database cannot forge an entry the chain accepts. Its id (a digest of
/// the key, not the key) is stored with each entry so that a changed secret key is told
/// apart from tampering.
#[derive(Clone)]
pub struct AuditKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

impl AuditKey {
    fn new(key: [u8; 32]) -> AuditKey {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&key).expect("any key length");
        m.update(b"huiqian audit key id");
        let id = hex::encode(&m.finalize().into_bytes()[..8]);
        AuditKey { key, id }
    }

    /// Sixteen hex digits naming this key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A MAC under this key, to be fed and finished by the caller.
    pub fn mac(&self) -> HmacSha256 {
        <HmacSha256 as Mac>::new_from_slice(&self.key).expect("any key length")
    }
}

/// HMAC-SHA-256, as the audit chain uses it.
pub type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret key must be 32 bytes encoded in base64 (generate one with: head -c32 /dev/urandom | base64)")]
    BadKey,
    #[error("cannot read or write the secret key file {0}: {1}")]
    Io(String, std::io::Error),
    #[error("stored personal data could not be decrypted: wrong secret key?")]
    Decrypt,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

fn derive(master: &[u8], label: &str) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(master).expect("any key length");
    m.update(label.as_bytes());
    m.finalize().into_bytes().into()
}

impl Secrets {
    pub fn from_base64(key: &str) -> Result<Secrets, SecretError> {
        let raw = STANDARD.decode(key.trim()).map_err(|_| SecretError::BadKey)?;
        if raw.len() != 32 {
            return Err(SecretError::BadKey);
        }
        Ok(Secrets {
            enc: derive(&raw, "huiqian/encrypt/v1"),
            lookup: derive(&raw, "huiqian/lookup/v1"),
            audit: AuditKey::new(derive(&raw, "huiqian/audit/v1")),
        })
    }

    /// The configured key, or the one in `<data>/secret.key`, generated on first start.
    pub fn load_or_create(configured: &str, data: &Path) -> Result<Secrets, SecretError> {
        if !configured.is_empty() {
            return Secrets::from_base64(configured);
        }
        let path = data.join("secret.key");
        let p = path.display().to_string();
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| SecretError::Io(p.clone(), e))?;
            return Secrets::from_base64(&text);
        }
        std::fs::create_dir_all(data).map_err(|e| SecretError::Io(p.clone(), e))?;
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let text = STANDARD.encode(raw);
        write_private(&path, &text).map_err(|e| SecretError::Io(p, e))?;
        Secrets::from_base64(&text)
    }

    /// Encrypt a value for storage (AES-256-GCM, random nonce): `v1:<base64>`.
    pub fn encrypt(&self, plain: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(&self.enc).expect("32-byte key");
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = cipher.encrypt(Nonce::from_slice(&nonce), plain.as_bytes()).expect("encryption cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, SecretError> {
        let b64 = stored.strip_prefix("v1:").ok_or(SecretError::Decrypt)?;
        let raw = STANDARD.decode(b64).map_err(|_| SecretError::Decrypt)?;
        if raw.len() < 12 {
            return Err(SecretError::Decrypt);
        }
        let cipher = Aes256Gcm::new_from_slice(&self.enc).expect("32-byte key");
        let plain = cipher.decrypt(Nonce::from_slice(&raw[..12]), &raw[12..]).map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Decrypt)
    }

    /// The audit chain's key.
    pub fn audit(&self) -> &AuditKey {
        &self.audit
    }

    /// A keyed hash for exact lookup (`kind` separates phone numbers from ID numbers).
    pub fn lookup_hash(&self, kind: &str, normalised: &str) -> String {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.lookup).expect("any key length");
        m.update(kind.as_bytes());
        m.update(b"\0");
        m.update(normalised.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// A random token for cookies and API tokens: 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// SHA-256 as lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compare secrets without leaking where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    /// R-ARC-1: ID numbers are stored encrypted; the stored form does not contain them.
    #[test]
    fn r_arc_1_encrypts_and_decrypts() {
        let s = secrets();
        let c = s.encrypt("11010519491231002X");
        assert!(!c.contains("11010519491231002X"));
        assert_ne!(c, s.encrypt("11010519491231002X"), "nonce must be random");
        assert_eq!(s.decrypt(&c).unwrap(), "11010519491231002X");
    }

    #[test]
    fn wrong_key_cannot_decrypt() {
        let c = secrets().encrypt("13812341234");
        let other = Secrets::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.decrypt(&c).is_err());
    }

    #[test]
    fn lookup_hash_is_keyed_and_separated_by_kind() {
        let s = secrets();
        assert_eq!(s.lookup_hash("phone", "13812341234"), s.lookup_hash("phone", "13812341234"));
        assert_ne!(s.lookup_hash("phone", "13812341234"), s.lookup_hash("id", "13812341234"));
        assert_ne!(s.lookup_hash("phone", "13812341234"), sha256_hex(b"13812341234"));
    }

    #[test]
    fn rejects_short_keys() {
        assert!(Secrets::from_base64("c2hvcnQ=").is_err());
    }
}
