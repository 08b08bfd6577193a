//! Why a value was refused, as stable codes the web layer translates.
//!
//! The domain never writes user-facing sentences: a refused value yields a
//! [`ValidationError`] whose `code` is looked up in `locales/validation.*.toml`
//! and whose `params` fill the message's `{placeholders}`. Every code this
//! crate can produce is listed in [`ALL_CODES`], and a test checks that both
//! locale files translate each of them.

use std::fmt;

/// Every code the parsers of this crate can return, so the translations can be checked.
pub const ALL_CODES: &[&str] = &[
    "required",
    // person::Phone
    "phone.bad_chars",
    "phone.format",
    "phone.mobile_length",
    "phone.landline_length",
    "phone.extension",
    "phone.not_mobile",
    // person::IdKind / person::IdDocument
    "id_kind.unknown",
    "id_number.bad_chars",
    "id_number.resident_length",
    "id_number.resident_format",
    "id_number.region",
    "id_number.bad_birth_date",
    "id_number.bad_check_digit",
    "id_number.passport_format",
    "id_number.hk_macao_format",
    "id_number.taiwan_format",
    "id_number.foreign_pr_format",
    "id_number.other_format",
    // person::PersonName
    "name.too_long",
    "name.bad_chars",
    "name.dot_position",
    // unit::RoomNo
    "room_no.format",
    "room_no.building",
    "room_no.entrance",
    "room_no.room",
    // unit::Floor
    "floor.format",
    "floor.zero",
    "floor.out_of_range",
    // unit::Area
    "area.format",
    "area.precision",
    "area.out_of_range",
    // unit enums
    "unit_status.unknown",
    "relation.unknown",
    "department.unknown",
    // money::Money
    "money.format",
    "money.precision",
    "money.out_of_range",
    // time::CivilDate
    "date.format",
    "date.invalid",
    // sheet::request
    "repair_class.unknown",
    "repair_category.unknown",
    "repair_source.unknown",
    "complaint_against.unknown",
    "complaint_flag.unknown",
    // followup
    "followup_reason.unknown",
    "followup_cause.unknown",
    "followup_rate.range",
    "followup_state.unknown",
    "followup_method.unknown",
    "followup_outcome.unknown",
    "capa_state.unknown",
];

/// A refused value: a stable dotted code plus named parameters for the translated message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Stable code such as `phone.not_mobile`; one of [`ALL_CODES`].
    pub code: &'static str,
    /// Values for the `{name}` placeholders of the translated message.
    pub params: Vec<(&'static str, String)>,
}

impl ValidationError {
    pub fn new(code: &'static str) -> Self {
        ValidationError { code, params: Vec::new() }
    }

    /// The error for an empty field, shared by every parser.
    pub fn required() -> Self {
        ValidationError::new("required")
    }

    /// Adds a parameter for the message's `{name}` placeholder.
    pub fn with(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// The value of parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Shows the code and parameters; for logs, not for users (they see the translation).
impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)?;
        if !self.params.is_empty() {
            f.write_str(" (")?;
            for (i, (name, value)) in self.params.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{name}={value}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// The errors of a whole form, field by field, so all of them are shown at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, ValidationError)>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    pub fn push(&mut self, field: impl Into<String>, err: ValidationError) {
        self.0.push((field.into(), err));
    }

    /// Records the error of `result`, if any, and passes the value on, so a
    /// form can parse every field before deciding whether it is acceptable.
    pub fn check<T>(&mut self, field: impl Into<String>, result: Result<T, ValidationError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ValidationError)> {
        self.0.iter().map(|(f, e)| (f.as_str(), e))
    }

    /// The first error recorded for `field`.
    pub fn get(&self, field: &str) -> Option<&ValidationError> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, e)| e)
    }

    /// `Ok(())` when no field was refused.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl IntoIterator for FieldErrors {
    type Item = (String, ValidationError);
    type IntoIter = std::vec::IntoIter<(String, ValidationError)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, err)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// Maps full-width ASCII forms (`０`–`９`, `Ａ`, `－`, `．`…) and the
/// ideographic space to their ASCII counterparts, as Chinese input methods
/// often produce them.
pub(crate) fn to_half_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Loads the locale files so tests can check that every produced error is translatable.

    use super::{ALL_CODES, ValidationError};
    use std::collections::BTreeMap;

    pub const ZH: &str = include_str!("../../../locales/validation.zh-CN.toml");
    pub const EN: &str = include_str!("../../../locales/validation.en.toml");

    /// Parses flat `"key" = "value"` lines; comments and blank lines are skipped.
    pub fn parse_flat(src: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (n, line) in src.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, rest) = quoted(line).unwrap_or_else(|| panic!("line {}: {line}", n + 1));
            let rest = rest.trim_start();
            let rest = rest.strip_prefix('=').unwrap_or_else(|| panic!("line {}: missing '='", n + 1)).trim_start();
            let (value, tail) = quoted(rest).unwrap_or_else(|| panic!("line {}: value", n + 1));
            let tail = tail.trim();
            assert!(tail.is_empty() || tail.starts_with('#'), "line {}: trailing text", n + 1);
            assert!(out.insert(key.clone(), value).is_none(), "line {}: duplicate key {key}", n + 1);
        }
        out
    }

    /// Reads one basic TOML string at the start of `s`; returns it and the rest.
    fn quoted(s: &str) -> Option<(String, &str)> {
        let s = s.strip_prefix('"')?;
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((out, &s[i + 1..])),
                '\\' => match chars.next()?.1 {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    _ => return None,
                },
                _ => out.push(c),
            }
        }
        None
    }

    /// The `{name}` placeholders of a message.
    pub fn placeholders(msg: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = msg;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let end = after.find('}').expect("unclosed placeholder");
            out.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
        out.sort();
        out.dedup();
        out
    }

    /// Panics unless `e` has a listed code and carries every parameter its messages use.
    pub fn assert_translatable(e: &ValidationError) {
        assert!(ALL_CODES.contains(&e.code), "unlisted code {}", e.code);
        for src in [ZH, EN] {
            let map = parse_flat(src);
            let msg = map.get(e.code).unwrap_or_else(|| panic!("untranslated code {}", e.code));
            for p in placeholders(msg) {
                assert!(e.param(&p).is_some(), "{} lacks param {p} used in {msg:?}", e.code);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn every_code_is_translated_in_both_languages() {
        let zh = parse_flat(ZH);
        let en = parse_flat(EN);
        for code in ALL_CODES {
            assert!(zh.contains_key(*code), "zh-CN lacks {code}");
            assert!(en.contains_key(*code), "en lacks {code}");
        }
        let zh_keys: Vec<_> = zh.keys().collect();
        let en_keys: Vec<_> = en.keys().collect();
        assert_eq!(zh_keys, en_keys, "the two locale files differ in keys");
        for key in zh.keys() {
            assert!(ALL_CODES.contains(&key.as_str()), "{key} is translated but never produced");
            assert_eq!(placeholders(&zh[key]), placeholders(&en[key]), "{key}: placeholders differ between languages");
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut codes = ALL_CODES.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL_CODES.len());
    }

    #[test]
    fn messages_do_not_name_the_field() {
        // The form shows the field's label beside the message.
        let zh = parse_flat(ZH);
        for (code, msg) in &zh {
            assert!(!msg.is_empty(), "{code}: empty message");
            for label in ["姓名", "电话"] {
                assert!(!msg.contains(label), "{code}: {msg:?} names the field");
            }
        }
    }

    #[test]
    fn error_display_shows_code_and_params() {
        let e = ValidationError::new("name.too_long").with("max", 40);
        assert_eq!(e.to_string(), "name.too_long (max=40)");
        assert_eq!(e.param("max"), Some("40"));
        assert_eq!(ValidationError::required().to_string(), "required");
    }

    #[test]
    fn field_errors_collect_a_whole_form() {
        let mut errs = FieldErrors::new();
        assert_eq!(errs.check("a", Ok::<_, ValidationError>(1)), Some(1));
        assert!(errs.clone().into_result().is_ok());
        assert_eq!(errs.check::<i32>("name", Err(ValidationError::required())), None);
        errs.push("phone", ValidationError::new("phone.format"));
        assert!(!errs.is_empty());
        assert_eq!(errs.len(), 2);
        assert_eq!(errs.get("phone").map(|e| e.code), Some("phone.format"));
        let fields: Vec<&str> = errs.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["name", "phone"]);
        assert_eq!(errs.to_string(), "name: required; phone: phone.format");
        assert!(errs.into_result().is_err());
    }

    #[test]
    fn full_width_forms_become_ascii() {
        assert_eq!(to_half_width("１３８－Ａｂ．　"), "138-Ab. ");
        assert_eq!(to_half_width("北京"), "北京");
    }
}
