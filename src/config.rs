//! Effective configuration: defaults, then the config file, then `HUIQIAN_*` environment
//! variables, then command-line flags (each later source wins).

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything huiqian needs to run. Secrets are never printed: see [`Config::redacted`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the web interface and API listen on.
    pub listen: SocketAddr,
    /// Data folder: the SQLite database, attachments and the generated secret key live here.
    pub data: PathBuf,
    /// `postgres://…` to run on PostgreSQL, or `sqlite://…` for an explicit SQLite file.
    /// Empty: SQLite in the data folder.
    pub database_url: String,
    /// 32-byte key (base64) protecting personal data at rest and keying lookup hashes.
    /// Empty: read from, or on first start written to, `<data>/secret.key`.
    pub secret_key: String,
    /// The address people use to reach huiqian (links in printed forms and notices).
    pub public_url: String,
    /// Reverse proxies (addresses or CIDR ranges, e.g. `10.0.0.0/8`) whose
    /// `X-Forwarded-For` header is believed for the client's address (sign-in throttling,
    /// session records). Empty: the connecting address is the client's.
    pub trusted_proxies: Vec<String>,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub notify: NotifyConfig,
    pub display: DisplayConfig,
    /// How the server logs: `text` (plain lines) or `json` (one object a line).
    pub log_format: LogFormat,
    /// Started with `--demo`: the sign-in page says so and lists no secrets.
    #[serde(skip)]
    pub demo: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Minutes without activity after which a session ends.
    pub idle_timeout_minutes: i64,
    /// Hours after sign-in after which a session ends whatever the activity.
    pub absolute_timeout_hours: i64,
    /// Failed sign-ins in a row before the account is locked for a while.
    pub max_failed_logins: i64,
    /// Minutes an account stays locked after too many failures.
    pub lockout_minutes: i64,
    /// Roles that must sign in with a second factor (TOTP). Default: the roles that
    /// administer, approve access to owner data or release special keys.
    pub require_totp_roles: Vec<String>,
    /// Set cookies with the `Secure` flag (turn on behind HTTPS).
    pub secure_cookies: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body accepted, in bytes (forms and JSON).
    pub max_body_bytes: usize,
    /// Largest uploaded file accepted, in bytes (imports, attachments).
    pub max_upload_bytes: usize,
    /// Seconds a client has to send a request's headers; also how long a kept-alive
    /// connection may sit idle.
    pub header_timeout_seconds: u64,
    /// Seconds a request body may pause before the request is refused (408).
    pub body_timeout_seconds: u64,
    /// Seconds a request may take from its headers to its answer, receiving its body
    /// included; past them the work is abandoned (its transaction rolled back) and the
    /// answer is 503 `request_timeout`. A download that has started streaming is not
    /// cut off. Keep it above the time the largest upload takes on the slowest link.
    pub request_timeout_seconds: u64,
}

/// Deadline notices: the scheduler's pace and the gateway that forwards notices to
/// phones (an SMS or WeCom bridge that accepts a JSON POST).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Seconds between scheduler ticks.
    pub tick_seconds: u64,
    /// POST every notice here as JSON (empty: in-app inbox only).
    pub webhook_url: String,
    /// First retry delay in seconds; doubled at each failure, at most an hour.
    pub retry_base_seconds: i64,
    /// Seconds the gateway has to answer one notice before the attempt counts as failed.
    pub timeout_seconds: u64,
}

/// How times are shown to people.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// The company's time zone (an IANA name such as `Asia/Shanghai`), for instants that
    /// belong to no community: a person's sessions and tokens, a notice or an audit entry
    /// of no community, the audit page's dates when no community is chosen. What belongs
    /// to a community is always shown in that community's own zone. An unknown name
    /// stops the server at start-up.
    pub timezone: Zone,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig { timezone: Zone(chrono_tz::Asia::Shanghai) }
    }
}

/// A time zone named in the configuration, parsed when the configuration is read: a name
/// the zone database does not know is a configuration error, never some other zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone(pub chrono_tz::Tz);

impl Zone {
    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }
}

impl TryFrom<String> for Zone {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.trim().parse::<chrono_tz::Tz>().map(Zone).map_err(|_| {
            format!("display.timezone: {name:?} is not a time zone the zone database knows (an IANA name such as \"Asia/Shanghai\")")
        })
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> String {
        z.0.name().to_string()
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig { tick_seconds: 60, webhook_url: String::new(), retry_base_seconds: 30, timeout_seconds: 10 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            data: PathBuf::from("./huiqian-data"),
            database_url: String::new(),
            secret_key: String::new(),
            public_url: String::new(),
            trusted_proxies: Vec::new(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            notify: NotifyConfig::default(),
            display: DisplayConfig::default(),
            log_format: LogFormat::Text,
            demo: false,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            idle_timeout_minutes: 30,
            absolute_timeout_hours: 12,
            max_failed_logins: 5,
            lockout_minutes: 15,
            require_totp_roles: huiqian_domain::auth::Role::ALL
                .into_iter()
                .filter(|r| r.requires_second_factor_by_default())
                .map(|r| r.as_str().to_string())
                .collect(),
            secure_cookies: false,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 20 * 1024 * 1024,
            header_timeout_seconds: 30,
            body_timeout_seconds: 60,
            request_timeout_seconds: 300,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Values given on the command line or in the environment; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data: Option<PathBuf>,
    pub database_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path} is not valid: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Load the effective configuration. The config file is the one named by
    /// `--config`/`HUIQIAN_CONFIG`, else `huiqian.toml` in the data folder if present.
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        let explicit = o.config_file.clone();
        let data_hint = o.data.clone().unwrap_or_else(|| PathBuf::from("./huiqian-data"));
        let implicit = data_hint.join("huiqian.toml");
        let mut cfg = match (&explicit, implicit.exists()) {
            (Some(p), _) => Self::from_file(p)?,
            (None, true) => Self::from_file(&implicit)?,
            (None, false) => Config::default(),
        };
        if let Some(v) = &o.listen {
            cfg.listen = *v;
        }
        if let Some(v) = &o.data {
            cfg.data = v.clone();
        }
        if let Some(v) = &o.database_url {
            cfg.database_url = v.clone();
        }
        if let Ok(v) = std::env::var("HUIQIAN_SECRET_KEY")
            && !v.is_empty()
        {
            cfg.secret_key = v;
        }
        if let Ok(v) = std::env::var("HUIQIAN_LOG_FORMAT")
            && !v.is_empty()
        {
            cfg.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(ConfigError::Invalid(format!("HUIQIAN_LOG_FORMAT: {v:?} is neither text nor json"))),
            };
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.display().to_string(), source })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.auth.idle_timeout_minutes <= 0 || self.auth.absolute_timeout_hours <= 0 {
            return Err(ConfigError::Invalid("auth timeouts must be positive".into()));
        }
        for p in &self.trusted_proxies {
            if IpRange::parse(p).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "trusted_proxies: {p:?} is not an address or a CIDR range (10.0.0.1, 10.0.0.0/8, ::1)"
                )));
            }
        }
        for r in &self.auth.require_totp_roles {
            if huiqian_domain::auth::Role::parse(r).is_none() {
                return Err(ConfigError::Invalid(format!("auth.require_totp_roles: unknown role {r:?}")));
            }
        }
        Ok(())
    }

    /// The database URL actually used: the configured one, or SQLite in the data folder.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data.join("huiqian.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The configuration as `huiqian config check` prints it: secrets replaced.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        if !c.secret_key.is_empty() {
            c.secret_key = "<redacted>".into();
        }
        c.database_url = redact_url(&c.effective_database_url());
        if !c.notify.webhook_url.is_empty() {
            // A gateway URL often carries its key in the query string.
            let mut u = redact_url(&c.notify.webhook_url);
            if let Some(i) = u.find('?') {
                u.truncate(i);
                u.push_str("?<redacted>");
            }
            c.notify.webhook_url = u;
        }
        c
    }
}

/// Hide a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// An address or a CIDR range of addresses (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    net: std::net::IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(s: &str) -> Option<IpRange> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s.trim(), None),
        };
        let net: std::net::IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpRange { net, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::*;
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map(V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (V4(n), V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (V6(n), V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_url() {
        assert_eq!(redact_url("postgres://hq:s3cret@db.example:5432/hq"), "postgres://hq:redacted@db.example:5432/hq");
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn trusted_proxy_ranges() {
        let r = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(r.contains("10.1.2.3".parse().unwrap()));
        assert!(r.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        assert!(IpRange::parse("127.0.0.1").unwrap().contains("127.0.0.1".parse().unwrap()));
        assert!(!IpRange::parse("127.0.0.1").unwrap().contains("127.0.0.2".parse().unwrap()));
        assert!(IpRange::parse("fd00::/8").unwrap().contains("fd12::1".parse().unwrap()));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(IpRange::parse("10.0.0.0/33").is_none());
        assert!(IpRange::parse("proxy.local").is_none());
    }

    #[test]
    fn an_unknown_display_zone_is_refused_at_start_up() {
        let dir = std::env::temp_dir().join(format!("huiqian-config-zone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("huiqian.toml");
        std::fs::write(&file, "[display]\ntimezone = \"Asia/Atlantis\"\n").unwrap();
        let err = Config::load(&Overrides { config_file: Some(file.clone()), ..Overrides::default() }).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::Parse { .. }), "{msg}");
        assert!(msg.contains("display.timezone"), "the message names the setting: {msg}");
        assert!(msg.contains("Asia/Atlantis"), "the message names the value: {msg}");

        std::fs::write(&file, "[display]\ntimezone = \"Europe/London\"\n").unwrap();
        let cfg = Config::load(&Overrides { config_file: Some(file), ..Overrides::default() }).unwrap();
        assert_eq!(cfg.display.timezone.tz(), chrono_tz::Europe::London);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_display_zone_defaults_to_shanghai() {
        assert_eq!(Config::default().display.timezone.tz(), chrono_tz::Asia::Shanghai);
        let cfg: Config = toml::from_str("").unwrap();
        assert_eq!(cfg.display.timezone.tz(), chrono_tz::Asia::Shanghai);
        assert!(toml::to_string(&cfg).unwrap().contains("timezone = \"Asia/Shanghai\""));
    }

    #[test]
    fn default_requires_totp_for_admins() {
        let c = Config::default();
        assert!(c.auth.require_totp_roles.iter().any(|r| r == "system_admin"));
        assert!(!c.auth.require_totp_roles.iter().any(|r| r == "technician"));
    }
}
