//! One language at a time: every page that a link leads to, as every role of the demo
//! company, in zh-CN and in English. A page fails when it shows a message key instead of
//! its text, text of the other language (a Chinese label on an English page, an English
//! one on a Chinese page, full-width punctuation inside English), or when a link it
//! offers leads to a refusal or an error. Residents' and staff's own data — names, the
//! community's and departments' names, what a resident said — is theirs and is left as
//! it is.

use crate::harness::{self, Client, fresh_database_url, test_config};
use huiqian::app::App;
use huiqian::demo;
use huiqian::i18n::{Lang, keys, t};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

/// Instances of one address pattern (`/sheets/N`) visited per role and language: the
/// second shows whether the first was typical, more only repeat the template.
const PER_PATTERN: usize = 2;
/// A bound on one role's crawl in one language.
const MAX_PAGES: usize = 160;

/// What a page shows: its text pieces (text between tags, and the labels a reader hears:
/// `title`, `aria-label`, `placeholder`, `alt`) and the addresses its links lead to.
#[derive(Default)]
struct Page {
    texts: Vec<String>,
    links: Vec<String>,
}

fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => {
                u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32)
            }
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in a tag's text (`<a href="/x" title="y">`).
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = tag[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before = tag[..at].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = &tag[at + name.len()..];
        let Some(rest) = rest.strip_prefix("=\"") else { continue };
        return rest.find('"').map(|end| &rest[..end]);
    }
    None
}

/// Read our own server's HTML: text outside tags, scripts and styles; the spoken labels;
/// the links.
fn read_page(html: &str) -> Page {
    let mut page = Page::default();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            page.texts.push(decode(rest));
            break;
        };
        page.texts.push(decode(&rest[..open]));
        rest = &rest[open..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |e| &rest[e + 3..]);
            continue;
        }
        let Some(close) = rest.find('>') else { break };
        let tag = &rest[..=close];
        rest = &rest[close + 1..];
        // Scripts and styles are no text; what a text box holds is its value, not the page's words.
        for skipped in ["script", "style", "template", "textarea"] {
            if tag[1..].starts_with(skipped) {
                let end = format!("</{skipped}>");
                rest = rest.find(&end).map_or("", |e| &rest[e + end.len()..]);
            }
        }
        for label in ["title", "aria-label", "placeholder", "alt"] {
            if let Some(v) = attribute(tag, label) {
                page.texts.push(decode(v));
            }
        }
        if tag.starts_with("<a ")
            && let Some(href) = attribute(tag, "href")
        {
            page.links.push(decode(href));
        }
    }
    page.texts = page
        .texts
        .into_iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect();
    page
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// The address pattern of a path: numbers become `N`, the query is dropped.
fn pattern(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/')
        .map(|seg| if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) { "N" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Links the crawl follows: the application's own pages, not files, exports, signing out
/// or the API.
fn followed(href: &str) -> Option<String> {
    if !href.starts_with('/') || href.starts_with("//") {
        return None;
    }
    let href = href.split('#').next().unwrap_or("");
    let skip = ["/static/", "/api/", "/logout", "/sign-out", "/files/", "/attachments/", "/export", "/backup"];
    if skip.iter().any(|s| href.starts_with(s))
        || href.contains(".csv")
        || href.contains("/export")
        || href.contains("/download")
        || href.contains("format=csv")
    {
        return None;
    }
    Some(href.to_string())
}

/// What the pages' words are made of, in each language, to recognise them elsewhere.
struct Vocabulary {
    /// The first segment of every message key (`sheet`, `sheet_event` …).
    namespaces: HashSet<String>,
    /// Every message key.
    keys: HashSet<String>,
    /// Messages of the other language, by the language of the page: for a zh-CN page the
    /// English messages that differ from their Chinese; for an English page the Chinese
    /// messages and the Chinese text written in the code.
    foreign: HashMap<&'static str, Vec<Vec<String>>>,
}

/// A message's fixed parts around its `{placeholders}`.
fn fragments(message: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = message;
    loop {
        match rest.find('{') {
            Some(i) => {
                out.push(rest[..i].trim().to_string());
                rest = rest[i..].find('}').map_or("", |e| &rest[i + e + 1..]);
            }
            None => {
                out.push(rest.trim().to_string());
                break;
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// A text made of a message: its fixed parts in order, the first at the start and the
/// last at the end.
fn made_of(text: &str, parts: &[String]) -> bool {
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else { return false };
    if !text.starts_with(first.as_str()) || !text.ends_with(last.as_str()) {
        return false;
    }
    let mut at = 0;
    for p in parts {
        match text[at..].find(p.as_str()) {
            Some(i) => at += i + p.len(),
            None => return false,
        }
    }
    true
}

/// Chinese string literals of the code that may reach a page (the domain's labels, the
/// application's messages); tests and the demo's own data are left out.
fn chinese_literals() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if !p.ends_with("demo") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    walk(&root.join("src"), &mut files);
    walk(&root.join("crates/domain/src"), &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // The code before its tests, without its comments.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (i, piece) in code.split('"').enumerate() {
            if i % 2 == 1 && piece.chars().filter(|&c| is_cjk(c)).count() >= 2 && !piece.contains('\n') {
                out.insert(piece.to_string());
            }
        }
    }
    out.into_iter().collect()
}

impl Vocabulary {
    fn new() -> Vocabulary {
        let all = keys(Lang::Zh);
        let namespaces = all.iter().filter_map(|k| k.split('.').next()).map(str::to_string).collect();
        let mut for_zh = vec![];
        let mut for_en = vec![];
        let zh_values: HashSet<&str> = all.iter().map(|k| t(Lang::Zh, k)).collect();
        for k in &all {
            let (zh, en) = (t(Lang::Zh, k), t(Lang::En, k));
            // An English message that is a word or more of English (not a code, a
            // number or a symbol both languages share).
            let english = en.split(|c: char| !c.is_ascii_alphabetic()).any(|w| w.len() >= 3);
            if en != zh && english && !zh_values.contains(en) {
                for_zh.push(fragments(en));
            }
            if zh.chars().any(is_cjk) {
                for_en.push(fragments(zh));
            }
        }
        for_en.extend(chinese_literals().iter().map(|s| fragments(s)));
        let keep = |v: &mut Vec<Vec<String>>, lang: &str| {
            v.retain(|parts| {
                let letters: usize = parts
                    .iter()
                    .map(|p| {
                        if lang == "en" {
                            p.chars().filter(|&c| is_cjk(c)).count()
                        } else {
                            p.chars().filter(char::is_ascii_alphabetic).count()
                        }
                    })
                    .sum();
                letters >= 2
            });
            v.sort();
            v.dedup();
        };
        keep(&mut for_zh, "zh");
        keep(&mut for_en, "en");
        Vocabulary {
            namespaces,
            keys: all.into_iter().collect(),
            foreign: HashMap::from([("zh-CN", for_zh), ("en", for_en)]),
        }
    }

    /// A message key shown as it is: a known key, or a dotted word under a known
    /// namespace (`sheet_event.follow_up_requested`).
    fn raw_key<'a>(&self, text: &'a str) -> Option<&'a str> {
        text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
            .map(|w| w.trim_matches('.'))
            .find(|w| {
                w.contains('.')
                    && (self.keys.contains(*w)
                        || w.split('.').next().is_some_and(|ns| self.namespaces.contains(ns))
                            && w.split('.')
                                .all(|seg| !seg.is_empty() && seg.starts_with(|c: char| c.is_ascii_lowercase())))
            })
    }

    /// What is wrong with a piece of text on a page in `lang`, if anything.
    fn fault(&self, lang: &str, text: &str, data: &HashSet<String>) -> Option<String> {
        if let Some(key) = self.raw_key(text) {
            return Some(format!("raw key `{key}`"));
        }
        if data.contains(text) {
            return None;
        }
        if let Some(parts) = self.foreign[lang].iter().find(|p| made_of(text, p)) {
            return Some(format!("the other language's text `{}`", parts.join("…")));
        }
        if lang == "en" {
            let chars: Vec<char> = text.chars().collect();
            let full_width = |c: char| "（）：，；、。！？【】".contains(c);
            for w in chars.windows(2) {
                if (w[0].is_ascii_alphabetic() && full_width(w[1])) || (full_width(w[0]) && w[1].is_ascii_alphabetic())
                {
                    return Some(format!("full-width punctuation in English `{}{}`", w[0], w[1]));
                }
            }
        } else {
            // Three English words in a row on a Chinese page (a user name or a code such
            // as `hy.cs_manager` is one word of no language).
            let mut run = 0;
            for w in text.split_whitespace().map(|w| w.trim_matches(|c: char| c.is_ascii_punctuation())) {
                if w.len() >= 2
                    && w.chars().all(|c| c.is_ascii_alphabetic())
                    && w.chars().any(|c| c.is_ascii_lowercase())
                {
                    run += 1;
                    if run >= 3 {
                        return Some("English words on a Chinese page".into());
                    }
                } else {
                    run = 0;
                }
            }
            // A stored code shown as it is (`move_in_receptionist`).
            if let Some(code) = text.split(|c: char| !(c.is_ascii_lowercase() || c == '_')).find(|w| {
                w.contains('_') && !w.starts_with('_') && !w.ends_with('_') && w.split('_').all(|p| p.len() >= 2)
            }) && !text.contains('.')
            {
                return Some(format!("a stored code `{code}`"));
            }
        }
        None
    }
}

/// The names a page may show in whatever language they were written: the company's,
/// communities', buildings', departments' and staff's.
async fn data_names(app: &App) -> HashSet<String> {
    let mut out = HashSet::new();
    for sql in [
        "SELECT name FROM companies",
        "SELECT name FROM communities",
        "SELECT name FROM buildings",
        "SELECT name FROM departments",
        "SELECT display_name FROM users",
    ] {
        let names: Vec<String> = sqlx::query_scalar(sql).fetch_all(app.store.read()).await.unwrap();
        out.extend(names);
    }
    out
}

/// `username` signed in and reading in `locale`.
async fn sign_in(base: &str, username: &str, locale: &str) -> Client {
    let who = harness::sign_in(base, username, demo::PASSWORD).await;
    let r = who.http.put(who.url("/api/v1/me/locale")).json(&json!({ "locale": locale })).send().await.unwrap();
    assert_eq!(r.status(), 204, "{username} chooses {locale}");
    who
}

/// One role's crawl in one language: the faults found, and how many pages were read.
async fn crawl(
    base: &str,
    who: &Client,
    lang: &str,
    vocabulary: &Vocabulary,
    data: &HashSet<String>,
) -> (Vec<String>, usize) {
    let mut faults = vec![];
    let mut seen = HashSet::new();
    let mut per_pattern: HashMap<String, usize> = HashMap::new();
    let mut queue = VecDeque::from(["/".to_string()]);
    let mut pages = 0;
    while let Some(path) = queue.pop_front() {
        if pages >= MAX_PAGES {
            break;
        }
        pages += 1;
        let r = who.http.get(format!("{base}{path}")).send().await.unwrap();
        let status = r.status().as_u16();
        let html_page =
            r.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html"));
        if status != 200 {
            faults.push(format!("{path}: a link leads to {status}"));
            continue;
        }
        if !html_page {
            continue;
        }
        let html = r.text().await.unwrap();
        let page = read_page(&html);
        let mut said = HashSet::new();
        for text in &page.texts {
            if let Some(f) = vocabulary.fault(lang, text, data)
                && said.insert(f.clone())
            {
                faults.push(format!("{path}: {f} in «{}»", text.chars().take(80).collect::<String>()));
            }
        }
        for href in page.links.iter().filter_map(|h| followed(h)) {
            if seen.contains(&href) {
                continue;
            }
            let n = per_pattern.entry(pattern(&href)).or_default();
            if *n >= PER_PATTERN {
                continue;
            }
            *n += 1;
            seen.insert(href.clone());
            queue.push_back(href);
        }
    }
    (faults, pages)
}

/// The demo's accounts of one community and the company's administrator.
fn accounts() -> Vec<String> {
    let c = &demo::COMMUNITIES[0];
    let mut out: Vec<String> = demo::STAFF.iter().map(|(_, suffix, _)| demo::username(c, suffix)).collect();
    out.push(demo::ADMIN_USERNAME.to_string());
    out
}

/// Every page that a link leads to, as every role, in both languages (issue: one
/// language at a time): no message key, no text of the other language, no link to a
/// refusal.
#[tokio::test]
async fn every_page_as_every_role_speaks_one_language() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let mut cfg = test_config(dir.path(), &url);
    cfg.demo = true;
    let app = huiqian::cli::open_with(cfg, true).await.expect("open database");
    assert!(demo::load_if_empty(&app).await.unwrap());
    let base = harness::serve(&app).await;
    let vocabulary = Vocabulary::new();
    let data = data_names(&app).await;
    let mut report: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut read = 0;
    for username in accounts() {
        for lang in ["zh-CN", "en"] {
            let who = sign_in(&base, &username, lang).await;
            let (faults, pages) = crawl(&base, &who, lang, &vocabulary, &data).await;
            assert!(pages >= 5, "{username} in {lang} reached only {pages} pages");
            read += pages;
            for f in faults {
                report.entry(f).or_default().push(format!("{username}/{lang}"));
            }
        }
    }
    let lines: Vec<String> = report.iter().map(|(f, who)| format!("{f}  [{}]", who.join(", "))).collect();
    assert!(
        lines.is_empty(),
        "{} faults on {read} pages read:\n{}",
        lines.len(),
        lines.iter().take(80).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_crawl_recognises_what_it_looks_for() {
    let v = Vocabulary::new();
    let none = HashSet::new();
    assert!(v.fault("zh-CN", "sheet_event.follow_up_requested", &none).is_some());
    assert!(v.fault("zh-CN", "hy.desk", &none).is_none(), "a user name is no key");
    assert!(v.fault("en", "Heating（Emergency）", &none).is_some());
    assert!(v.fault("en", t(Lang::Zh, "nav.home"), &none).is_some());
    assert!(v.fault("zh-CN", t(Lang::En, "sheet.register"), &none).is_some());
    assert!(v.fault("zh-CN", t(Lang::Zh, "sheet.register"), &none).is_none());
    assert!(v.fault("en", "周国庆", &none).is_none(), "a name is data");
    assert!(v.fault("en", "KF-2026-000001", &none).is_none());
    let page =
        read_page(r#"<p title="a &amp; b">x<script>var y = "z";</script><a href="/sheets/3?x=1&amp;y=2">s</a></p>"#);
    assert_eq!(page.texts, vec!["a & b", "x", "s"]);
    assert_eq!(page.links, vec!["/sheets/3?x=1&y=2"]);
    assert_eq!(pattern("/sheets/12/print?x=1"), "/sheets/N/print");
}
