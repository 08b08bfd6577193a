//! zh-CN first, English second. Messages live in `locales/*.toml` (flat `key = "text"`,
//! `{name}` placeholders); a test checks that every key exists in both languages.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh-CN" | "zh" | "zh-cn" => Some(Lang::Zh),
            "en" | "en-US" | "en-GB" => Some(Lang::En),
            _ => None,
        }
    }

    /// From an `Accept-Language` header: English only if preferred over Chinese.
    pub fn from_accept_language(h: &str) -> Lang {
        for part in h.split(',') {
            let tag = part.split(';').next().unwrap_or("").trim().to_lowercase();
            if tag.starts_with("zh") {
                return Lang::Zh;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Zh
    }
}

pub const ZH_FILES: &[&str] =
    &[include_str!("../locales/zh-CN.toml"), include_str!("../locales/validation.zh-CN.toml")];
pub const EN_FILES: &[&str] = &[include_str!("../locales/en.toml"), include_str!("../locales/validation.en.toml")];

fn load(files: &[&str]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for f in files {
        let table: toml::Table = toml::from_str(f).expect("locale files are valid TOML (checked by tests)");
        flatten("", &table, &mut map);
    }
    map
}

fn flatten(prefix: &str, t: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(sub) => flatten(&key, sub, out),
            _ => {}
        }
    }
}

fn table(lang: Lang) -> &'static HashMap<String, String> {
    static ZH: OnceLock<HashMap<String, String>> = OnceLock::new();
    static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
    match lang {
        Lang::Zh => ZH.get_or_init(|| load(ZH_FILES)),
        Lang::En => EN.get_or_init(|| load(EN_FILES)),
    }
}

/// The message for `key`; the key itself if missing (tests make sure none is).
pub fn t(lang: Lang, key: &str) -> &'static str {
    match table(lang).get(key) {
        Some(s) => s.as_str(),
        None => missing(key),
    }
}

/// A missing key is shown as itself (and logged once), never as an empty string.
fn missing(key: &str) -> &'static str {
    static SEEN: std::sync::Mutex<Option<HashMap<String, &'static str>>> = std::sync::Mutex::new(None);
    let mut g = SEEN.lock().expect("i18n lock");
    let map = g.get_or_insert_with(HashMap::new);
    if let Some(s) = map.get(key) {
        return s;
    }
    tracing::warn!(key, "missing translation");
    let leaked: &'static str = Box::leak(key.to_string().into_boxed_str());
    map.insert(key.to_string(), leaked);
    leaked
}

pub fn has(lang: Lang, key: &str) -> bool {
    table(lang).contains_key(key)
}

/// The message for `key` with `{name}` placeholders filled.
pub fn tf<K: AsRef<str>, V: AsRef<str>>(lang: Lang, key: &str, params: &[(K, V)]) -> String {
    let mut s = t(lang, key).to_string();
    for (k, v) in params {
        s = s.replace(&format!("{{{}}}", k.as_ref()), v.as_ref());
    }
    s
}

/// A template's parts: fixed text and `{name}` placeholders, in order.
fn template_parts(template: &str) -> Vec<(bool, &str)> {
    let mut out = vec![];
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let Some(end) = rest[i..].find('}') else { break };
        if i > 0 {
            out.push((false, &rest[..i]));
        }
        out.push((true, &rest[i + 1..i + end]));
        rest = &rest[i + end + 1..];
    }
    if !rest.is_empty() {
        out.push((false, rest));
    }
    out
}

/// The placeholders' values if `text` is written after `template`.
fn read_after<'a>(template: &str, text: &'a str) -> Option<Vec<(String, &'a str)>> {
    let parts = template_parts(template);
    let mut values = vec![];
    let mut at = 0;
    for (i, (is_var, part)) in parts.iter().enumerate() {
        if !is_var {
            if !text[at..].starts_with(part) {
                return None;
            }
            at += part.len();
            continue;
        }
        let end = match parts.get(i + 1) {
            Some((false, next)) => at + text[at..].find(next)?,
            _ => text.len(),
        };
        values.push((part.to_string(), &text[at..end]));
        at = end;
    }
    (at == text.len()).then_some(values)
}

/// Text the program itself wrote into the record — in Chinese, the language of the paper
/// form it prints on ("报修派工", "当场答复：…", "…（材料：…）") — in the reader's language.
/// The phrases are the `stored.*` messages; a Chinese term inside one (a role, an outcome)
/// is given in English too. Anything else is a person's own words and is left as written.
pub fn stored(lang: Lang, text: &str, terms: &[(&str, &str)]) -> String {
    if lang == Lang::Zh {
        return text.to_string();
    }
    let mut phrases: Vec<(&String, &String)> =
        table(Lang::Zh).iter().filter(|(k, _)| k.starts_with("stored.")).collect();
    phrases.sort();
    for (key, template) in phrases {
        if let Some(values) = read_after(template, text) {
            let values: Vec<(String, String)> = values
                .into_iter()
                .map(|(k, v)| {
                    let v = terms.iter().find(|(z, _)| *z == v).map_or(v, |(_, e)| e);
                    (k, v.to_string())
                })
                .collect();
            return tf(lang, key, &values);
        }
    }
    text.to_string()
}

/// All keys of a language (for the completeness test).
pub fn keys(lang: Lang) -> Vec<String> {
    let mut v: Vec<String> = table(lang).keys().cloned().collect();
    v.sort();
    v
}

/// The per-request translator handed to templates.
#[derive(Debug, Clone, Copy)]
pub struct T(pub Lang);

impl T {
    pub fn get(&self, key: &str) -> &'static str {
        t(self.0, key)
    }
    pub fn lang(&self) -> &'static str {
        self.0.code()
    }
    pub fn is_en(&self) -> bool {
        self.0 == Lang::En
    }
}

/// The files below `dir` with one of these endings (for the tests that read the code for
/// the keys and actions it uses).
#[cfg(test)]
pub(crate) fn sources(dir: &std::path::Path, endings: &[&str], out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, endings, out);
        } else if p.extension().is_some_and(|x| endings.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_the_program_wrote_reads_in_english() {
        let terms = [("前台接待员", "Front-desk receptionist")];
        assert_eq!(stored(Lang::En, "报修派工", &terms), t(Lang::En, "stored.repair_dispatch"));
        assert_eq!(stored(Lang::En, "更换灯泡（材料：LED 灯泡 1 个）", &terms), "更换灯泡 (materials: LED 灯泡 1 个)");
        assert_eq!(stored(Lang::En, "当场答复：可以代收", &terms), "Answered on the spot: 可以代收");
        assert!(stored(Lang::En, "安保员受理，交客服部首接", &terms).starts_with("Taken in by 安保员"));
        assert!(
            stored(Lang::En, "前台接待员受理，交客服部首接", &terms).starts_with("Taken in by Front-desk receptionist")
        );
        assert_eq!(stored(Lang::En, "卫生间漏水", &terms), "卫生间漏水", "a person's words stay as written");
        assert_eq!(stored(Lang::Zh, "报修派工", &terms), "报修派工");
    }

    #[test]
    fn every_key_exists_in_both_languages() {
        let zh = keys(Lang::Zh);
        let en = keys(Lang::En);
        let missing_en: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        let missing_zh: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in en: {missing_en:?}");
        assert!(missing_zh.is_empty(), "missing in zh-CN: {missing_zh:?}");
    }

    /// Every message key the code and templates use exists in both languages: a missing
    /// one would show its key to a receptionist.
    #[test]
    fn every_key_used_in_code_and_templates_exists() {
        let files = |dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>| sources(dir, &["rs", "html"], out);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut all = vec![];
        files(&root.join("src"), &mut all);
        files(&root.join("templates"), &mut all);
        files(&root.join("crates/domain/src"), &mut all);
        // (prefix before the quoted key, prefix added to the key)
        let patterns: &[(&str, &str)] = &[
            (".get(\"", ""),
            ("ValidationError::new(\"", ""),
            ("rejected(\"", "error."),
            ("Conflict { code: \"", "error."),
            ("Rejected { code: \"", "error."),
            ("Refusal(\"", "error."),
        ];
        let mut missing = vec![];
        for f in &all {
            let text = std::fs::read_to_string(f).unwrap();
            for (pat, prefix) in patterns {
                for (i, _) in text.match_indices(pat) {
                    let rest = &text[i + pat.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let key = &rest[..end];
                    if !key.contains('.') && prefix.is_empty() && *pat == ".get(\"" {
                        continue;
                    }
                    if key.is_empty() || key.contains('{') || key.contains(' ') {
                        continue;
                    }
                    let full = format!("{prefix}{key}");
                    for lang in [Lang::Zh, Lang::En] {
                        if !has(lang, &full) {
                            missing.push(format!("{full} ({}) in {}", lang.code(), f.display()));
                        }
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "missing translations:\n{}", missing.join("\n"));
    }

    /// Every event a sheet's history may hold has its name in both languages: the
    /// timeline shows it to the desk (a missing one would show its key).
    #[test]
    fn every_sheet_event_is_named_in_both_languages() {
        let mut missing = vec![];
        for event in huiqian_domain::sheet::lifecycle::EVENT_TYPES {
            for lang in [Lang::Zh, Lang::En] {
                let key = format!("sheet_event.{event}");
                if !has(lang, &key) {
                    missing.push(format!("{key} ({})", lang.code()));
                }
            }
        }
        assert!(missing.is_empty(), "events without a name: {missing:?}");
    }

    #[test]
    fn accept_language() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_accept_language(""), Lang::Zh);
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            tf(Lang::En, "error.account_locked", &[("minutes", "5")]),
            "Too many failed sign-ins. The account is locked; try again in 5 minutes."
        );
    }
}
