//! The audit trail in words: what was done, to what, on whose authority, and what changed,
//! as a manager reads it — not the stored codes (`sheet.dispatched`, `cs_manager@1`,
//! epoch milliseconds in JSON).

use crate::i18n::{Lang, has, t};
use chrono_tz::Tz;
use huiqian_domain::auth::Role;
use huiqian_domain::sheet::request::{AgainstKind, FlagReason, RepairCategory, RepairClass, RepairSource};
use huiqian_domain::sheet::{Channel, SheetKind};
use huiqian_domain::unit::{DepartmentKind, OccupantRelation};
use serde_json::Value;

/// What was done: `audit_action.<action>`, or for a step of a sheet its event's name.
pub fn action(lang: Lang, action: &str) -> String {
    let key = format!("audit_action.{action}");
    if has(lang, &key) {
        return t(lang, &key).to_string();
    }
    if let Some(event) = action.strip_prefix("sheet.") {
        let key = format!("sheet_event.{event}");
        if has(lang, &key) {
            return t(lang, &key).to_string();
        }
    }
    action.to_string()
}

/// What it was done to: "会签单 KF-2026-000003" for a sheet, else the kind and its number,
/// with the page to open where there is one.
pub fn entity(lang: Lang, kind: &str, id: &str, sheet_number: Option<&str>) -> (String, Option<String>) {
    let key = format!("audit_entity.{kind}");
    let name = if has(lang, &key) { t(lang, &key) } else { kind };
    match (kind, sheet_number) {
        ("sheet", Some(no)) => (format!("{name} {no}"), Some(format!("/sheets/{id}"))),
        ("person", _) => (format!("{name} #{id}"), Some(format!("/persons/{id}"))),
        _ if id.is_empty() => (name.to_string(), None),
        _ => (format!("{name} #{id}"), None),
    }
}

/// On whose authority: a role in a community ("客服部经理 · 和园"), the company, one's own
/// account, or the system acting by a rule of the manual (the rule's number kept for the
/// title). `community` names a community by its id.
pub fn authority(
    lang: Lang,
    authority: &str,
    role_label: impl Fn(&str) -> String,
    community: impl Fn(i64) -> Option<String>,
) -> (String, String) {
    if let Some((role, place)) = authority.split_once('@') {
        let place = match place {
            "company" => t(lang, "audit.company_wide").to_string(),
            id => id.parse().ok().and_then(&community).unwrap_or_else(|| format!("#{id}")),
        };
        return (format!("{} · {place}", role_label(role)), String::new());
    }
    match authority {
        "" => (String::new(), String::new()),
        "self" => (t(lang, "audit.own_account").to_string(), String::new()),
        crate::app::holidays::SHIPPED_AUTHORITY => (t(lang, "audit.shipped").to_string(), String::new()),
        rule if rule.starts_with("R-") => (t(lang, "audit.by_rule").to_string(), rule.to_string()),
        other => (other.to_string(), String::new()),
    }
}

/// What changed, one line a field: names in words, times in the zone, yes and no, the
/// event of a sheet's step spread out beside the sheet's number and state.
pub fn changes(lang: Lang, changes: &str, zone: Tz) -> Vec<(String, String)> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(changes) else {
        return if changes.trim().is_empty() || changes == "{}" || changes == "null" {
            vec![]
        } else {
            vec![(String::new(), changes.to_string())]
        };
    };
    let mut out = vec![];
    for (k, v) in &map {
        match (k.as_str(), v) {
            ("event", Value::Object(inner)) => {
                for (k, v) in inner {
                    out.push((field(lang, k), value(lang, k, v, zone)));
                }
            }
            _ => out.push((field(lang, k), value(lang, k, v, zone))),
        }
    }
    out
}

/// A stored code of the manual's terms in the reader's language.
fn term<L: super::Labelled>(lang: Lang, parsed: Option<L>, code: &str) -> String {
    parsed.map_or_else(|| code.to_string(), |l| l.in_lang(lang).to_string())
}

fn field(lang: Lang, key: &str) -> String {
    let k = format!("audit_field.{key}");
    if has(lang, &k) { t(lang, &k).to_string() } else { key.to_string() }
}

fn value(lang: Lang, key: &str, v: &Value, zone: Tz) -> String {
    use huiqian_domain::keys;
    let is_time = key.ends_with("_at") || matches!(key, "at" | "since" | "until" | "next_attempt");
    match v {
        Value::Null => "—".to_string(),
        Value::Bool(b) => t(lang, if *b { "common.yes" } else { "common.no" }).to_string(),
        Value::Number(n) if is_time => match n.as_i64() {
            Some(ms) if ms > 0 => huiqian_domain::time::format_instant(ms, zone),
            _ => n.to_string(),
        },
        Value::Number(n) => n.to_string(),
        Value::String(s) if key == "state" => {
            let k = format!("sheet_state.{s}");
            if has(lang, &k) { t(lang, &k).to_string() } else { s.clone() }
        }
        Value::String(s) if key == "role" => term(lang, Role::parse(s), s),
        Value::String(s) if key == "relation" => term(lang, OccupantRelation::parse(s).ok(), s),
        Value::String(s) if key == "channel" => term(lang, Channel::parse(s).ok(), s),
        // The step a sheet's event records.
        Value::String(s) if key == "type" && has(lang, &format!("sheet_event.{s}")) => {
            t(lang, &format!("sheet_event.{s}")).to_string()
        }
        Value::String(s) if key == "against" => term(lang, AgainstKind::parse(s).ok(), s),
        Value::String(s) if key.ends_with("department_kind") => term(lang, DepartmentKind::parse(s).ok(), s),
        Value::String(s) if key == "class" => term(lang, RepairClass::parse(s).ok(), s),
        Value::String(s) if key == "source" => term(lang, RepairSource::parse(s).ok(), s),
        Value::String(s) if key == "reason" && FlagReason::parse(s).is_ok() => term(lang, FlagReason::parse(s).ok(), s),
        // Codes of a few words the manual has no term for: how an acceptance was confirmed,
        // where a complaint went, what an attachment is.
        Value::String(s) if has(lang, &format!("audit_value.{key}.{s}")) => {
            t(lang, &format!("audit_value.{key}.{s}")).to_string()
        }
        Value::String(s) if key == "repair_category" || (key == "category" && RepairCategory::parse(s).is_ok()) => {
            term(lang, RepairCategory::parse(s).ok(), s)
        }
        // Key custody's terms (R-KEY-*).
        Value::String(s) if key == "reason_kind" => term(lang, keys::ReasonKind::parse(s).ok(), s),
        Value::String(s) if key == "taker_kind" => term(lang, keys::TakerKind::parse(s).ok(), s),
        Value::String(s) if key == "basis" && keys::Basis::parse(s).is_ok() => {
            term(lang, keys::Basis::parse(s).ok(), s)
        }
        Value::String(s) if key == "special" => term(lang, keys::SpecialRoom::parse(s).ok(), s),
        Value::String(s) if key == "authorisation" => term(lang, keys::Authorisation::parse(s).ok(), s),
        Value::String(s) if key == "resolution" => term(lang, keys::count::Resolution::parse(s).ok(), s),
        Value::String(s) if key == "kind" && keys::count::IncidentKind::parse(s).is_ok() => {
            term(lang, keys::count::IncidentKind::parse(s).ok(), s)
        }
        // The work a custody agreement allows, as its codes are kept (repair,emergency).
        Value::String(s) if key == "scope" => {
            let sep = if lang == Lang::En { ", " } else { "、" };
            s.split(',').map(|x| term(lang, keys::ReasonKind::parse(x).ok(), x)).collect::<Vec<_>>().join(sep)
        }
        // A sheet's kind, a price item's (labour, material) or a department's.
        Value::String(s) if key == "kind" => match SheetKind::parse(s) {
            Ok(k) => term(lang, Some(k), s),
            Err(_) if has(lang, &format!("price_item.{s}")) => t(lang, &format!("price_item.{s}")).to_string(),
            Err(_) => term(lang, DepartmentKind::parse(s).ok(), s),
        },
        Value::String(s) => super::stored_text(lang, s),
        Value::Array(items) => {
            let sep = if lang == Lang::En { ", " } else { "、" };
            items.iter().map(|i| value(lang, key, i, zone)).collect::<Vec<_>>().join(sep)
        }
        // A part of an event (a complaint's details, a confirmation): its fields in words.
        Value::Object(map) => {
            let sep = if lang == Lang::En { "; " } else { "；" };
            let colon = if lang == Lang::En { ": " } else { "：" };
            map.iter()
                .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
                .map(|(k, v)| format!("{}{colon}{}", field(lang, k), value(lang, k, v, zone)))
                .collect::<Vec<_>>()
                .join(sep)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn a_sheets_step_reads_as_its_event() {
        assert_eq!(action(Lang::Zh, "sheet.dispatched"), t(Lang::Zh, "sheet_event.dispatched"));
        assert_eq!(action(Lang::En, "person.created"), t(Lang::En, "audit_action.person.created"));
    }

    #[test]
    fn authority_in_words() {
        let role = |r: &str| if r == "cs_manager" { "客服部经理".to_string() } else { r.to_string() };
        let place = |id: i64| (id == 1).then(|| "和园".to_string());
        assert_eq!(authority(Lang::Zh, "cs_manager@1", role, place).0, "客服部经理 · 和园");
        let (text, title) = authority(Lang::Zh, "R-SHEET-9", role, place);
        assert!(!text.contains("R-SHEET") && title == "R-SHEET-9", "{text}");
    }

    #[test]
    fn changes_read_as_lines_with_times_in_the_zone() {
        let json = r#"{"number":"KF-2026-000003","event":{"handover":1,"opinion":"请工程部上门"},"due_at":1767225600000,"signature_pending":true}"#;
        let lines = changes(Lang::Zh, json, ZONE);
        assert!(lines.iter().any(|(k, v)| k == t(Lang::Zh, "audit_field.opinion") && v == "请工程部上门"), "{lines:?}");
        assert!(lines.iter().any(|(_, v)| v == "2026-01-01 08:00"), "{lines:?}");
        assert!(lines.iter().any(|(_, v)| v == t(Lang::Zh, "common.yes")), "{lines:?}");
        assert!(!lines.iter().any(|(k, _)| k == "event"));
    }

    /// Every field the code writes into an audit entry's changes has a name in both
    /// languages, and the terms read as words: the page never shows `must_change_password`
    /// or `move_in_receptionist`.
    #[test]
    fn every_audited_field_has_words() {
        let mut all = vec![];
        crate::i18n::sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &["rs"], &mut all);
        let mut fields = std::collections::BTreeSet::new();
        for f in &all {
            let text = std::fs::read_to_string(f).unwrap();
            if !text.contains("audit::record") {
                continue;
            }
            for (i, _) in text.match_indices("json!({") {
                let body = &text[i + 7..];
                let body = &body[..body.find("})").unwrap_or(body.len())];
                for (j, _) in body.match_indices("\":") {
                    let key = &body[..j];
                    let key = &key[key.rfind('"').map_or(0, |q| q + 1)..];
                    if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                        fields.insert(key.to_string());
                    }
                }
            }
        }
        // And every field and code a sheet's event stores (the audit entry of a step carries it).
        let events = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/domain/tests/stored_events.jsonl"),
        )
        .unwrap();
        let mut codes = std::collections::BTreeSet::new();
        fn walk(
            v: &Value,
            key: &str,
            fields: &mut std::collections::BTreeSet<String>,
            codes: &mut std::collections::BTreeSet<(String, String)>,
        ) {
            match v {
                Value::Object(map) => {
                    for (k, v) in map {
                        fields.insert(k.clone());
                        walk(v, k, fields, codes);
                    }
                }
                Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                    codes.insert((key.to_string(), s.clone()));
                }
                _ => {}
            }
        }
        for line in events.lines().filter(|l| !l.trim().is_empty()) {
            walk(&serde_json::from_str(line).unwrap(), "", &mut fields, &mut codes);
        }
        let unread: Vec<_> = codes
            .iter()
            .flat_map(|kv| [Lang::Zh, Lang::En].map(|lang| (kv, lang)))
            .filter(|((k, v), lang)| value(*lang, k, &Value::String(v.clone()), ZONE) == *v)
            .map(|((k, v), lang)| format!("{k}={v} ({})", lang.code()))
            .collect();
        assert!(unread.is_empty(), "stored codes without words: {unread:?}");
        assert!(fields.len() > 60, "the scan found the fields: {fields:?}");
        let missing: Vec<_> = fields
            .iter()
            .flat_map(|k| [Lang::Zh, Lang::En].map(|lang| (k, lang)))
            .filter(|(k, lang)| field(*lang, k) == **k)
            .map(|(k, lang)| format!("{k} ({})", lang.code()))
            .collect();
        assert!(missing.is_empty(), "audited fields without a name: {missing:?}");
        let lines = changes(Lang::En, r#"{"role":"move_in_receptionist","usernames":["hy.desk","hy.tech"]}"#, ZONE);
        assert!(lines.iter().any(|(_, v)| v == Role::MoveInReceptionist.label_en()), "{lines:?}");
        assert!(lines.iter().any(|(_, v)| v == "hy.desk, hy.tech"), "{lines:?}");
        let lines = changes(Lang::Zh, r#"{"kind":"situation_report","repair_category":"door_window"}"#, ZONE);
        assert!(lines.iter().any(|(_, v)| v == SheetKind::SituationReport.label_zh()), "{lines:?}");
        assert!(lines.iter().any(|(_, v)| v == RepairCategory::DoorWindow.label_zh()), "{lines:?}");
    }

    /// Every action the code writes to the trail, and every step of a sheet, has words in
    /// both languages: the audit page never shows a stored code.
    #[test]
    fn every_audited_action_has_words() {
        let mut all = vec![];
        crate::i18n::sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app"), &["rs"], &mut all);
        let mut actions: Vec<String> =
            huiqian_domain::sheet::lifecycle::EVENT_TYPES.iter().map(|e| format!("sheet.{e}")).collect();
        let quoted = |s: &str| -> Option<String> {
            let start = s.find('"')? + 1;
            let end = start + s[start..].find('"')?;
            let lit = &s[start..end];
            (lit.contains('.') && lit.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'))
                .then(|| lit.to_string())
        };
        for f in &all {
            let text = std::fs::read_to_string(f).unwrap();
            for call in ["audit::record(", "record_own(", "record_covering(", "record_system(", "record_self("] {
                for (i, _) in text.match_indices(call) {
                    // The first dotted literal among the call's arguments is its action.
                    let args = &text[i + call.len()..];
                    let mut end = args.find(");").unwrap_or(args.len()).min(600);
                    while !args.is_char_boundary(end) {
                        end -= 1;
                    }
                    let args = &args[..end];
                    let mut rest = args;
                    while let Some(pos) = rest.find('"') {
                        if let Some(lit) = quoted(&rest[pos..]) {
                            actions.push(lit);
                            break;
                        }
                        let after = &rest[pos + 1..];
                        rest = &after[after.find('"').map(|e| e + 1).unwrap_or(after.len())..];
                    }
                }
            }
            for line in text.lines().filter(|l| l.trim_start().starts_with("let action = ")) {
                let mut rest = line;
                while let Some(lit) = quoted(rest) {
                    actions.push(lit.clone());
                    rest = &rest[rest.find(&lit).unwrap() + lit.len() + 1..];
                }
            }
        }
        actions.sort();
        actions.dedup();
        assert!(actions.len() > 60, "the scan found the actions: {actions:?}");
        let mut missing = vec![];
        for a in &actions {
            for lang in [Lang::Zh, Lang::En] {
                if action(lang, a) == *a {
                    missing.push(format!("{a} ({})", lang.code()));
                }
            }
        }
        assert!(missing.is_empty(), "audited actions without words: {missing:?}");
    }
}
