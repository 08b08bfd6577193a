//! Personal data of owners, residents and contacts (R-ARC-1).
//!
//! Phone numbers, identity documents and names are parsed here once, at the
//! edge, into normalised values; each type also knows how to show itself
//! masked, which is how personal data appears to staff who have not been
//! granted access to the full record.

use crate::validation::{ValidationError, to_half_width};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

// ---------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------

/// Whether a phone number reaches a mobile (which can receive SMS) or a fixed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    Mobile,
    Landline,
}

/// A mainland Chinese mobile or landline number, normalised.
///
/// Mobiles are stored as 11 digits (`13812341234`); landlines as area code,
/// dash, local number and optional dash-extension (`010-12345678-123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone {
    text: String,
    kind: PhoneKind,
    /// Byte length of the area code; 0 for mobiles.
    area_len: usize,
    /// Byte index where the number proper ends (before any `-extension`).
    number_end: usize,
}

/// Separators people put inside phone numbers.
fn is_phone_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '—' | '–' | '(' | ')')
}

impl Phone {
    /// Parses what a caller or a form gives: spaces, dashes, `+86`/`0086`/`86`,
    /// full-width digits and `转` extensions are accepted.
    pub fn parse(s: &str) -> Result<Phone, ValidationError> {
        let s = to_half_width(s);
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::required());
        }
        let (main, ext) = match s.split_once('转') {
            Some((main, ext)) => {
                let ext = ext.trim();
                if ext.is_empty() || ext.len() > 6 || !ext.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ValidationError::new("phone.extension"));
                }
                (main.trim(), Some(ext))
            }
            None => (s, None),
        };

        let (rest, international) =
            ["+86", "0086", "86"].iter().find_map(|p| main.strip_prefix(p).map(|r| (r, true))).unwrap_or((main, false));

        let mut groups: Vec<String> = Vec::new();
        let mut cur = String::new();
        for c in rest.chars() {
            if c.is_ascii_digit() {
                cur.push(c);
            } else if is_phone_separator(c) {
                if !cur.is_empty() {
                    groups.push(std::mem::take(&mut cur));
                }
            } else {
                return Err(ValidationError::new("phone.bad_chars"));
            }
        }
        if !cur.is_empty() {
            groups.push(cur);
        }
        if groups.is_empty() {
            return Err(ValidationError::new("phone.format"));
        }
        let looks_mobile = |d: &str| {
            let b = d.as_bytes();
            b[0] == b'1' && b.len() > 1 && (b'3'..=b'9').contains(&b[1])
        };
        if international && !groups[0].starts_with('0') && !looks_mobile(&groups.concat()) {
            // +86 10 12345678: the international form drops the trunk prefix 0.
            groups[0].insert(0, '0');
        }
        let digits = groups.concat();

        match digits.as_bytes()[0] {
            b'1' => {
                if ext.is_some() {
                    return Err(ValidationError::new("phone.format"));
                }
                if digits.len() != 11 {
                    return Err(ValidationError::new("phone.mobile_length").with("len", digits.len()));
                }
                if !looks_mobile(&digits) {
                    return Err(ValidationError::new("phone.format"));
                }
                Ok(Phone { number_end: digits.len(), text: digits, kind: PhoneKind::Mobile, area_len: 0 })
            }
            b'0' => Phone::landline(&digits, &groups, ext),
            _ => Err(ValidationError::new("phone.format")),
        }
    }

    /// Splits a landline's digits into area code, local number and extension.
    fn landline(digits: &str, groups: &[String], zhuan_ext: Option<&str>) -> Result<Phone, ValidationError> {
        let b = digits.as_bytes();
        if b.len() < 3 || b[1] == b'0' || (b[1] == b'1' && b[2] != b'0') {
            // 00… is an international call; 010 is the only area code starting 01.
            return Err(ValidationError::new("phone.format"));
        }
        // Area codes 010 and 02x have three digits, all others four.
        let area_len = if matches!(b[1], b'1' | b'2') { 3 } else { 4 };
        let area = &digits[..area_len.min(digits.len())];
        let (local, ext): (String, Option<String>) = match zhuan_ext {
            Some(e) => (digits[area.len()..].to_string(), Some(e.to_string())),
            None => {
                let n = groups.len();
                let middle = if n >= 3 { groups[1..n - 1].concat() } else { String::new() };
                if n >= 3
                    && groups[0].len() == area_len
                    && (7..=8).contains(&middle.len())
                    && (1..=6).contains(&groups[n - 1].len())
                {
                    (middle, Some(groups[n - 1].clone()))
                } else {
                    (digits[area.len()..].to_string(), None)
                }
            }
        };
        if !(7..=8).contains(&local.len()) {
            return Err(ValidationError::new("phone.landline_length").with("len", local.len()));
        }
        if local.starts_with('0') {
            return Err(ValidationError::new("phone.format"));
        }
        let mut text = format!("{area}-{local}");
        let number_end = text.len();
        if let Some(e) = ext {
            text.push('-');
            text.push_str(&e);
        }
        Ok(Phone { text, kind: PhoneKind::Landline, area_len, number_end })
    }

    /// Parses a number that must reach a mobile, e.g. for SMS notifications.
    pub fn parse_mobile(s: &str) -> Result<Phone, ValidationError> {
        let p = Phone::parse(s)?;
        match p.kind {
            PhoneKind::Mobile => Ok(p),
            PhoneKind::Landline => Err(ValidationError::new("phone.not_mobile")),
        }
    }

    /// The normalised form: `13812341234` or `010-12345678[-123]`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The landline's area code (`010`, `0755`).
    pub fn area_code(&self) -> Option<&str> {
        (self.area_len > 0).then(|| &self.text[..self.area_len])
    }

    pub fn extension(&self) -> Option<&str> {
        (self.number_end < self.text.len()).then(|| &self.text[self.number_end + 1..])
    }

    /// The last four digits of the number proper, which callers are asked to confirm.
    pub fn last4(&self) -> &str {
        &self.text[self.number_end - 4..self.number_end]
    }

    /// The number as shown without access to personal data (R-ARC-1):
    /// `138****1234`, `010-****5678`. The extension is left out.
    pub fn masked(&self) -> String {
        match self.kind {
            PhoneKind::Mobile => format!("{}****{}", &self.text[..3], self.last4()),
            PhoneKind::Landline => {
                let local_len = self.number_end - self.area_len - 1;
                format!("{}-{}{}", &self.text[..self.area_len], "*".repeat(local_len - 4), self.last4())
            }
        }
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for Phone {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.text
    }
}

// ---------------------------------------------------------------------------
// Identity documents
// ---------------------------------------------------------------------------

/// The kinds of identity document the desk records for owners and residents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// 居民身份证; also 港澳台居民居住证, which use the same 18-digit numbers.
    ResidentIdCard,
    /// 护照
    Passport,
    /// 港澳居民来往内地通行证 (回乡证): H or M, 8 digits, optionally 2 more.
    HkMacaoPermit,
    /// 台湾居民来往大陆通行证 (台胞证): 8 digits, or 10 characters in the old form.
    TaiwanPermit,
    /// 外国人永久居留身份证: 18 digits (2023 form) or 3 letters + 12 digits (old form).
    ForeignPermanentResident,
    /// Any other document; only its shape is checked.
    Other,
}

impl IdKind {
    pub const ALL: [IdKind; 6] = [
        IdKind::ResidentIdCard,
        IdKind::Passport,
        IdKind::HkMacaoPermit,
        IdKind::TaiwanPermit,
        IdKind::ForeignPermanentResident,
        IdKind::Other,
    ];

    /// The stable code stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::ResidentIdCard => "resident_id_card",
            IdKind::Passport => "passport",
            IdKind::HkMacaoPermit => "hk_macao_permit",
            IdKind::TaiwanPermit => "taiwan_permit",
            IdKind::ForeignPermanentResident => "foreign_permanent_resident",
            IdKind::Other => "other",
        }
    }

    /// Accepts the code, the official Chinese name or the usual short name (身份证, 台胞证…).
    pub fn parse(s: &str) -> Result<IdKind, ValidationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::required());
        }
        let kind = match s {
            "居民身份证" | "身份证" | "港澳台居民居住证" => IdKind::ResidentIdCard,
            "护照" => IdKind::Passport,
            "港澳居民来往内地通行证" | "回乡证" => IdKind::HkMacaoPermit,
            "台湾居民来往大陆通行证" | "台胞证" => IdKind::TaiwanPermit,
            "外国人永久居留身份证" | "外国人永久居留证" | "永居证" => {
                IdKind::ForeignPermanentResident
            }
            "其他" | "其他证件" => IdKind::Other,
            _ => IdKind::ALL
                .into_iter()
                .find(|k| k.as_str() == s)
                .ok_or_else(|| ValidationError::new("id_kind.unknown"))?,
        };
        Ok(kind)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            IdKind::ResidentIdCard => "居民身份证",
            IdKind::Passport => "护照",
            IdKind::HkMacaoPermit => "港澳居民来往内地通行证",
            IdKind::TaiwanPermit => "台湾居民来往大陆通行证",
            IdKind::ForeignPermanentResident => "外国人永久居留身份证",
            IdKind::Other => "其他证件",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            IdKind::ResidentIdCard => "Resident identity card",
            IdKind::Passport => "Passport",
            IdKind::HkMacaoPermit => "Mainland travel permit for Hong Kong and Macao residents",
            IdKind::TaiwanPermit => "Mainland travel permit for Taiwan residents",
            IdKind::ForeignPermanentResident => "Foreign permanent resident ID card",
            IdKind::Other => "Other document",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// GB 11643-1999 weights of the first 17 digits of a citizen identity number.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643-1999 check characters, indexed by the weighted sum mod 11.
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// The GB 11643-1999 check character for the first 17 digits of an identity
/// number; `None` unless given exactly 17 ASCII digits.
pub fn check_digit(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b.iter().zip(ID_WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    Some(char::from(ID_CHECK_CHARS[(sum % 11) as usize]))
}

/// An identity document: its kind and its normalised (upper-case, no spaces) number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IdDocument {
    kind: IdKind,
    number: String,
}

impl IdDocument {
    /// Validates `s` as a number of `kind`. `today` bounds the birth date
    /// encoded in resident identity numbers.
    pub fn parse(kind: IdKind, s: &str, today: NaiveDate) -> Result<IdDocument, ValidationError> {
        IdDocument::parse_inner(kind, s, Some(today))
    }

    fn parse_inner(kind: IdKind, s: &str, today: Option<NaiveDate>) -> Result<IdDocument, ValidationError> {
        let number: String =
            to_half_width(s).chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        if number.is_empty() {
            return Err(ValidationError::required());
        }
        if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValidationError::new("id_number.bad_chars"));
        }
        let b = number.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let letters = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_uppercase);
        let ok = match kind {
            IdKind::ResidentIdCard => {
                validate_resident(&number, today)?;
                true
            }
            IdKind::Passport => (5..=17).contains(&b.len()),
            IdKind::HkMacaoPermit => matches!(b[0], b'H' | b'M') && matches!(b.len(), 9 | 11) && digits(1..b.len()),
            IdKind::TaiwanPermit => (b.len() == 8 && digits(0..8)) || b.len() == 10,
            IdKind::ForeignPermanentResident => match b.len() {
                15 => letters(0..3) && digits(3..15),
                18 => b[0] == b'9' && digits(0..17) && (b[17].is_ascii_digit() || b[17] == b'X'),
                _ => false,
            },
            IdKind::Other => (2..=30).contains(&b.len()),
        };
        if !ok {
            return Err(ValidationError::new(match kind {
                IdKind::ResidentIdCard => unreachable!("validated above"),
                IdKind::Passport => "id_number.passport_format",
                IdKind::HkMacaoPermit => "id_number.hk_macao_format",
                IdKind::TaiwanPermit => "id_number.taiwan_format",
                IdKind::ForeignPermanentResident => "id_number.foreign_pr_format",
                IdKind::Other => "id_number.other_format",
            }));
        }
        Ok(IdDocument { kind, number })
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The full number; only for staff granted access to personal data.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The birth date encoded in a resident identity number.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        match self.kind {
            IdKind::ResidentIdCard => birth_date_of(&self.number),
            _ => None,
        }
    }

    /// The number as shown without access to personal data (R-ARC-1): resident
    /// IDs as `110***********1234`; other numbers keep a character or two at the
    /// front and up to four at the back, about a third in all. Length is kept.
    pub fn masked(&self) -> String {
        let n = self.number.len();
        let (front, back) = match self.kind {
            IdKind::ResidentIdCard => (3, 4),
            _ => mask_split(n),
        };
        format!("{}{}{}", &self.number[..front], "*".repeat(n - front - back), &self.number[n - back..])
    }
}

/// How many leading and trailing characters of an `n`-character number a mask keeps.
fn mask_split(n: usize) -> (usize, usize) {
    if n <= 3 {
        return (1.min(n), 0);
    }
    let front = if n >= 12 { 2 } else { 1 };
    let back = n.div_ceil(3).saturating_sub(front).clamp(1, 4);
    (front, back)
}

fn birth_date_of(number: &str) -> Option<NaiveDate> {
    let field = |r: std::ops::Range<usize>| number.get(r)?.parse::<u32>().ok();
    let year = i32::try_from(field(6..10)?).ok()?;
    NaiveDate::from_ymd_opt(year, field(10..12)?, field(12..14)?)
}

fn validate_resident(number: &str, today: Option<NaiveDate>) -> Result<(), ValidationError> {
    let b = number.as_bytes();
    if b.len() != 18 {
        return Err(ValidationError::new("id_number.resident_length").with("len", b.len()));
    }
    if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return Err(ValidationError::new("id_number.resident_format"));
    }
    if b[0] == b'0' {
        return Err(ValidationError::new("id_number.region"));
    }
    let plausible = |d: &NaiveDate| d.year() >= 1900 && today.is_none_or(|t| *d <= t);
    if !birth_date_of(number).is_some_and(|d| plausible(&d)) {
        return Err(ValidationError::new("id_number.bad_birth_date"));
    }
    if check_digit(&number[..17]) != Some(char::from(b[17])) {
        return Err(ValidationError::new("id_number.bad_check_digit"));
    }
    Ok(())
}

/// Stored documents are re-validated on load, except against the current date.
impl<'de> Deserialize<'de> for IdDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            kind: IdKind,
            number: String,
        }
        let raw = Raw::deserialize(d)?;
        IdDocument::parse_inner(raw.kind, &raw.number, None).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// A person's name as written on their documents: Chinese, Latin or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

/// Characters people type for the middle dot of transliterated names (阿卜杜拉·艾买提).
const MIDDLE_DOTS: &[char] = &['·', '•', '・', '･', '‧', '∙', '⋅'];

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2EBEF}'
        | '\u{30000}'..='\u{3134F}'
        | '〇')
}

fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}') && c.is_alphabetic() && c != '×' && c != '÷')
}

fn is_letter(c: char) -> bool {
    is_cjk(c) || is_latin_letter(c)
}

impl PersonName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 40;

    /// Trims, collapses whitespace, removes spaces between Chinese characters
    /// and writes every middle dot as `·`.
    pub fn parse(s: &str) -> Result<PersonName, ValidationError> {
        let collapsed = to_half_width(s).split_whitespace().collect::<Vec<_>>().join(" ");
        let chars: Vec<char> = collapsed.chars().collect();
        if chars.is_empty() {
            return Err(ValidationError::required());
        }
        let prev = |i: usize| chars[..i].iter().rev().copied().find(|c| *c != ' ');
        let next = |i: usize| chars[i + 1..].iter().copied().find(|c| *c != ' ');
        let is_middle_dot = |j: usize| {
            MIDDLE_DOTS.contains(&chars[j])
                || (chars[j] == '.' && prev(j).is_some_and(is_cjk) && next(j).is_some_and(is_cjk))
        };
        let mut out = String::with_capacity(collapsed.len());
        for (i, &c) in chars.iter().enumerate() {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            if is_letter(c) {
                out.push(c);
            } else if c == ' ' {
                let beside_dot = is_middle_dot(i - 1) || is_middle_dot(i + 1);
                let between_cjk = before.is_some_and(is_cjk) && after.is_some_and(is_cjk);
                if !beside_dot && !between_cjk {
                    out.push(' ');
                }
            } else if is_middle_dot(i) {
                if !(prev(i).is_some_and(is_letter) && next(i).is_some_and(is_letter)) {
                    return Err(ValidationError::new("name.dot_position"));
                }
                out.push('·');
            } else if c == '.' && before.is_some_and(is_latin_letter) {
                // An initial: "J. Smith".
                out.push('.');
            } else if matches!(c, '-' | '\'' | '’')
                && before.is_some_and(is_latin_letter)
                && after.is_some_and(is_latin_letter)
            {
                // Jean-Pierre, O'Brien.
                out.push(if c == '-' { '-' } else { '\'' });
            } else {
                return Err(ValidationError::new("name.bad_chars").with("char", c));
            }
        }
        if out.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("name.too_long").with("max", Self::MAX_CHARS));
        }
        Ok(PersonName(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PersonName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PersonName::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(n: PersonName) -> String {
        n.0
    }
}

// ---------------------------------------------------------------------------
// Free-text masking
// ---------------------------------------------------------------------------

/// Masks free text such as an address or employer (R-ARC-1): keeps the first
/// `keep_front` characters (never more than half of the text) and replaces
/// the rest with a fixed `****`, which also hides the length. Text no longer
/// than `keep_front` keeps only its first character.
pub fn mask_text(s: &str, keep_front: usize) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n == 0 {
        return String::new();
    }
    let keep = if keep_front == 0 {
        0
    } else if n <= keep_front {
        1
    } else {
        keep_front.min(n / 2).max(1)
    };
    let mut out: String = chars[..keep].iter().collect();
    out.push_str("****");
    out
}

/// An address masked to its first six characters, enough to tell the district.
pub fn mask_address(s: &str) -> String {
    mask_text(s, 6)
}

/// An employer masked to its first two characters.
pub fn mask_employer(s: &str) -> String {
    mask_text(s, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::assert_translatable;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn code<T: fmt::Debug>(r: Result<T, ValidationError>) -> &'static str {
        let e = r.unwrap_err();
        assert_translatable(&e);
        e.code
    }

    fn id(s: &str) -> Result<IdDocument, ValidationError> {
        IdDocument::parse(IdKind::ResidentIdCard, s, today())
    }

    /// A valid resident ID built from its parts.
    fn make_id(region: u32, birth: NaiveDate, seq: u32) -> String {
        let first17 = format!("{region:06}{}{seq:03}", birth.format("%Y%m%d"));
        let c = check_digit(&first17).unwrap();
        format!("{first17}{c}")
    }

    // --- Phone -----------------------------------------------------------

    #[test]
    fn mobile_numbers_are_normalised() {
        for s in [
            "13812341234",
            "138 1234 1234",
            "138-1234-1234",
            "+86 138 1234 1234",
            "+8613812341234",
            "8613812341234",
            "0086-13812341234",
            "１３８１２３４１２３４",
            "  138－1234－1234 ",
        ] {
            let p = Phone::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(p.as_str(), "13812341234", "{s}");
            assert_eq!(p.kind(), PhoneKind::Mobile);
            assert_eq!(p.last4(), "1234");
            assert_eq!(p.area_code(), None);
            assert_eq!(p.extension(), None);
        }
    }

    #[test]
    fn landlines_are_normalised() {
        let cases = [
            ("010-12345678", "010-12345678", None),
            ("01012345678", "010-12345678", None),
            ("010 1234 5678", "010-12345678", None),
            ("(010)12345678", "010-12345678", None),
            ("+86 10 1234 5678", "010-12345678", None),
            ("0755 1234567", "0755-1234567", None),
            ("0755-12345678", "0755-12345678", None),
            ("021-87654321-123", "021-87654321-123", Some("123")),
            ("021-87654321转123", "021-87654321-123", Some("123")),
            ("0755-1234567-8", "0755-1234567-8", Some("8")),
            ("０２１８７６５４３２１ 转 ８", "021-87654321-8", Some("8")),
        ];
        for (input, normal, ext) in cases {
            let p = Phone::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.as_str(), normal, "{input}");
            assert_eq!(p.kind(), PhoneKind::Landline);
            assert_eq!(p.extension(), ext, "{input}");
        }
        let p = Phone::parse("0755-1234567").unwrap();
        assert_eq!(p.area_code(), Some("0755"));
        assert_eq!(p.last4(), "4567");
        let p = Phone::parse("021-87654321-123").unwrap();
        assert_eq!(p.last4(), "4321", "the extension is not part of the last four");
    }

    #[test]
    fn bad_phones_are_refused_with_a_reason() {
        assert_eq!(code(Phone::parse("")), "required");
        assert_eq!(code(Phone::parse("   ")), "required");
        assert_eq!(code(Phone::parse("1381234123")), "phone.mobile_length");
        assert_eq!(Phone::parse("138123412345").unwrap_err().param("len"), Some("12"));
        assert_eq!(code(Phone::parse("12812341234")), "phone.format");
        assert_eq!(code(Phone::parse("138abc41234")), "phone.bad_chars");
        assert_eq!(code(Phone::parse("138.1234.1234")), "phone.bad_chars");
        assert_eq!(code(Phone::parse("87654321")), "phone.format");
        assert_eq!(code(Phone::parse("010-123456")), "phone.landline_length");
        assert_eq!(code(Phone::parse("010-123456789")), "phone.landline_length");
        assert_eq!(code(Phone::parse("010-02345678")), "phone.format");
        assert_eq!(code(Phone::parse("011-22345678")), "phone.format");
        assert_eq!(code(Phone::parse("00852-12345678")), "phone.format");
        assert_eq!(code(Phone::parse("010-12345678转")), "phone.extension");
        assert_eq!(code(Phone::parse("010-12345678转1234567")), "phone.extension");
        assert_eq!(code(Phone::parse("13812341234转8")), "phone.format");
        assert_eq!(code(Phone::parse("+86")), "phone.format");
        assert_eq!(code(Phone::parse("4008123123")), "phone.format");
    }

    #[test]
    fn parse_mobile_refuses_landlines() {
        assert!(Phone::parse_mobile("13812341234").is_ok());
        assert_eq!(code(Phone::parse_mobile("010-12345678")), "phone.not_mobile");
    }

    #[test]
    fn r_arc_1_phone_is_masked() {
        assert_eq!(Phone::parse("13812341234").unwrap().masked(), "138****1234");
        assert_eq!(Phone::parse("010-12345678").unwrap().masked(), "010-****5678");
        assert_eq!(Phone::parse("0755-1234567").unwrap().masked(), "0755-***4567");
        assert_eq!(Phone::parse("021-87654321转123").unwrap().masked(), "021-****4321");
    }

    #[test]
    fn phone_serde_is_the_normalised_string() {
        use serde::de::IntoDeserializer;
        use serde::de::value::Error;
        let p = Phone::parse("+86 138 1234 1234").unwrap();
        assert_eq!(String::from(p.clone()), "13812341234");
        let de = |s: &str| Phone::deserialize(IntoDeserializer::<Error>::into_deserializer(s));
        assert_eq!(de("138 1234 1234").unwrap(), p);
        assert!(de("1234").is_err());
    }

    // --- Identity documents -------------------------------------------------

    #[test]
    fn check_digit_follows_gb_11643() {
        // The standard's own example.
        assert_eq!(check_digit("11010519491231002"), Some('X'));
        assert_eq!(check_digit("44052418800101001"), Some('4'));
        assert_eq!(check_digit("1101051949123100"), None);
        assert_eq!(check_digit("1101051949123100A"), None);
    }

    #[test]
    fn resident_ids_are_validated() {
        let doc = id("11010519491231002x").unwrap();
        assert_eq!(doc.number(), "11010519491231002X");
        assert_eq!(doc.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31));
        assert_eq!(doc.kind(), IdKind::ResidentIdCard);
        assert!(id("110105 19491231 002X").is_ok());
        assert!(id("１１０１０５１９４９１２３１００２Ｘ").is_ok());

        assert_eq!(code(id("")), "required");
        assert_eq!(code(id("110105194912310")), "id_number.resident_length");
        assert_eq!(id("110105194912310").unwrap_err().param("len"), Some("15"));
        assert_eq!(code(id("11010519491231-02X")), "id_number.bad_chars");
        assert_eq!(code(id("1101051949123100XX")), "id_number.resident_format");
        assert_eq!(code(id("X10105194912310021")), "id_number.resident_format");
        assert_eq!(code(id("11010519491231002A")), "id_number.resident_format");
        assert_eq!(code(id("11010519491231002Y")), "id_number.resident_format");
        assert_eq!(code(id("110105194912310021")), "id_number.bad_check_digit");
        assert_eq!(code(id(&make_id(10105, NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(), 1))), "id_number.region");
        // 30 February, and a birth date after today.
        let feb30 = "11010519900230123";
        let feb30 = format!("{feb30}{}", check_digit(feb30).unwrap());
        assert_eq!(code(id(&feb30)), "id_number.bad_birth_date");
        let future = make_id(110105, NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(), 1);
        assert_eq!(code(id(&future)), "id_number.bad_birth_date");
        let born_today = make_id(110105, today(), 1);
        assert!(id(&born_today).is_ok(), "a newborn may be registered");
        let ancient = make_id(110105, NaiveDate::from_ymd_opt(1899, 12, 31).unwrap(), 1);
        assert_eq!(code(id(&ancient)), "id_number.bad_birth_date");
    }

    #[test]
    fn other_documents_are_checked_by_shape() {
        let ok = |k, s: &str| IdDocument::parse(k, s, today()).map(|d| d.number().to_string());
        let bad = |k, s: &str| code(IdDocument::parse(k, s, today()));
        assert_eq!(ok(IdKind::Passport, "e12345678").unwrap(), "E12345678");
        assert_eq!(ok(IdKind::Passport, "AB123").unwrap(), "AB123");
        assert_eq!(bad(IdKind::Passport, "AB12"), "id_number.passport_format");
        assert_eq!(bad(IdKind::Passport, &"A".repeat(18)), "id_number.passport_format");
        assert_eq!(bad(IdKind::Passport, "E1234-5678"), "id_number.bad_chars");

        assert_eq!(ok(IdKind::HkMacaoPermit, "h12345678").unwrap(), "H12345678");
        assert!(ok(IdKind::HkMacaoPermit, "M1234567801").is_ok());
        assert_eq!(bad(IdKind::HkMacaoPermit, "C12345678"), "id_number.hk_macao_format");
        assert_eq!(bad(IdKind::HkMacaoPermit, "H1234567"), "id_number.hk_macao_format");
        assert_eq!(bad(IdKind::HkMacaoPermit, "H123456780"), "id_number.hk_macao_format");
        assert_eq!(bad(IdKind::HkMacaoPermit, "H1234567A"), "id_number.hk_macao_format");

        assert!(ok(IdKind::TaiwanPermit, "12345678").is_ok());
        assert!(ok(IdKind::TaiwanPermit, "1234567890").is_ok());
        assert_eq!(bad(IdKind::TaiwanPermit, "1234567A"), "id_number.taiwan_format");
        assert_eq!(bad(IdKind::TaiwanPermit, "123456789"), "id_number.taiwan_format");

        let fpr = IdKind::ForeignPermanentResident;
        assert!(ok(fpr, "USA110165010101").is_ok());
        assert!(ok(fpr, "911840199001010012").is_ok());
        assert_eq!(bad(fpr, "US1110165010101"), "id_number.foreign_pr_format");
        assert_eq!(bad(fpr, "111840199001010012"), "id_number.foreign_pr_format");
        assert_eq!(bad(fpr, "9118401990010100"), "id_number.foreign_pr_format");

        assert!(ok(IdKind::Other, "AB").is_ok());
        assert_eq!(bad(IdKind::Other, "A"), "id_number.other_format");
        assert_eq!(bad(IdKind::Other, &"1".repeat(31)), "id_number.other_format");
        assert_eq!(bad(IdKind::Other, "  "), "required");
        assert_eq!(ok(IdKind::Other, "12").map(|_| ()).ok(), Some(()), "other kinds carry no birth date");
        assert_eq!(IdDocument::parse(IdKind::Passport, "E12345678", today()).unwrap().birth_date(), None);
    }

    #[test]
    fn id_kinds_round_trip_and_accept_chinese_names() {
        for k in IdKind::ALL {
            assert_eq!(IdKind::parse(k.as_str()), Ok(k));
            assert_eq!(IdKind::parse(k.label_zh()), Ok(k));
            assert!(!k.label_en().is_empty());
        }
        assert_eq!(IdKind::parse("身份证"), Ok(IdKind::ResidentIdCard));
        assert_eq!(IdKind::parse("港澳台居民居住证"), Ok(IdKind::ResidentIdCard));
        assert_eq!(IdKind::parse("台胞证"), Ok(IdKind::TaiwanPermit));
        assert_eq!(IdKind::parse("回乡证"), Ok(IdKind::HkMacaoPermit));
        assert_eq!(code(IdKind::parse("驾驶证")), "id_kind.unknown");
        assert_eq!(code(IdKind::parse("")), "required");
    }

    #[test]
    fn r_arc_1_id_numbers_are_masked() {
        assert_eq!(id("11010519491231002X").unwrap().masked(), "110***********002X");
        let m = |k, s: &str| IdDocument::parse(k, s, today()).unwrap().masked();
        assert_eq!(m(IdKind::HkMacaoPermit, "H12345678"), "H******78");
        assert_eq!(m(IdKind::HkMacaoPermit, "M1234567801"), "M*******801");
        assert_eq!(m(IdKind::TaiwanPermit, "12345678"), "1*****78");
        assert_eq!(m(IdKind::Passport, "E1234"), "E***4");
        assert_eq!(m(IdKind::Passport, "E12345678"), "E******78");
        assert_eq!(m(IdKind::ForeignPermanentResident, "USA110165010101"), "US**********101");
        assert_eq!(m(IdKind::ForeignPermanentResident, "911840199001010012"), "91************0012");
        assert_eq!(m(IdKind::Other, "AB"), "A*");
        assert_eq!(m(IdKind::Other, "ABC"), "A**");
    }

    #[test]
    fn id_document_serde_revalidates() {
        let doc = id("11010519491231002X").unwrap();
        let de = |kind, number: &str| {
            use serde::de::value::{Error, MapDeserializer};
            let map = vec![("kind", kind), ("number", number.to_string())];
            let d: MapDeserializer<'_, _, Error> = MapDeserializer::new(map.into_iter());
            IdDocument::deserialize(d)
        };
        assert_eq!(de("resident_id_card".into(), "11010519491231002X").unwrap(), doc);
        assert!(de("resident_id_card".into(), "110105194912310021").is_err());
        assert!(de("driving_licence".into(), "11010519491231002X").is_err());
        // Stored data is not refused because the clock is behind.
        let future = make_id(110105, NaiveDate::from_ymd_opt(2099, 1, 1).unwrap(), 1);
        assert!(de("resident_id_card".into(), &future).is_ok());
    }

    // --- Names ---------------------------------------------------------------

    #[test]
    fn names_are_normalised() {
        let n = |s: &str| PersonName::parse(s).map(|n| n.as_str().to_string());
        assert_eq!(n("  张三 ").unwrap(), "张三");
        assert_eq!(n("张 三").unwrap(), "张三");
        assert_eq!(n("张\u{3000}三").unwrap(), "张三");
        assert_eq!(n("阿卜杜拉·艾买提").unwrap(), "阿卜杜拉·艾买提");
        assert_eq!(n("阿卜杜拉•艾买提").unwrap(), "阿卜杜拉·艾买提");
        assert_eq!(n("阿卜杜拉.艾买提").unwrap(), "阿卜杜拉·艾买提");
        assert_eq!(n("阿卜杜拉．艾买提").unwrap(), "阿卜杜拉·艾买提");
        assert_eq!(n("阿卜杜拉 · 艾买提").unwrap(), "阿卜杜拉·艾买提");
        assert_eq!(n("John   Smith").unwrap(), "John Smith");
        assert_eq!(n("Ｊｏｈｎ Ｓｍｉｔｈ").unwrap(), "John Smith");
        assert_eq!(n("José Müller").unwrap(), "José Müller");
        assert_eq!(n("Jean-Pierre O’Brien").unwrap(), "Jean-Pierre O'Brien");
        assert_eq!(n("J. Smith").unwrap(), "J. Smith");
        assert_eq!(n("李 Lee").unwrap(), "李 Lee");
        assert_eq!(n("𠀾三").unwrap(), "𠀾三", "rare characters outside the BMP");
        assert_eq!(n(&"张".repeat(40)).unwrap().chars().count(), 40);
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(code(PersonName::parse("")), "required");
        assert_eq!(code(PersonName::parse(" \t ")), "required");
        assert_eq!(code(PersonName::parse(&"张".repeat(41))), "name.too_long");
        assert_eq!(PersonName::parse(&"张".repeat(41)).unwrap_err().param("max"), Some("40"));
        assert_eq!(code(PersonName::parse("张三3")), "name.bad_chars");
        assert_eq!(PersonName::parse("张三!").unwrap_err().param("char"), Some("!"));
        assert_eq!(code(PersonName::parse("张三@")), "name.bad_chars");
        assert_eq!(code(PersonName::parse("-John")), "name.bad_chars");
        assert_eq!(code(PersonName::parse("·张三")), "name.dot_position");
        assert_eq!(code(PersonName::parse("张三·")), "name.dot_position");
        assert_eq!(code(PersonName::parse("张··三")), "name.dot_position");
    }

    // --- Free text -----------------------------------------------------------

    #[test]
    fn r_arc_1_address_and_employer_are_masked() {
        assert_eq!(mask_address("北京市朝阳区望京西园三区 2 号楼"), "北京市朝阳区****");
        assert_eq!(mask_employer("北京字节跳动科技有限公司"), "北京****");
        assert_eq!(mask_employer("华为"), "华****");
        assert_eq!(mask_address("望京西园"), "望****");
        assert_eq!(mask_address("北京市朝阳区望"), "北京市****");
        assert_eq!(mask_address("  "), "");
        assert_eq!(mask_text("secret", 0), "****");
    }

    // --- Properties ----------------------------------------------------------

    fn valid_id() -> impl Strategy<Value = String> {
        let start = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        let days = (today() - start).num_days();
        (100_000u32..=999_999, 0..=days, 0u32..=999)
            .prop_map(move |(region, d, seq)| make_id(region, start + chrono::Duration::days(d), seq))
    }

    fn valid_phone_input() -> impl Strategy<Value = String> {
        let mobile = (3u8..=9, 0u64..=999_999_999, 0usize..4).prop_map(|(second, rest, style)| {
            let d = format!("1{second}{rest:09}");
            match style {
                0 => d,
                1 => format!("{} {} {}", &d[..3], &d[3..7], &d[7..]),
                2 => format!("+86-{d}"),
                _ => format!("{}-{}-{}", &d[..3], &d[3..7], &d[7..]),
            }
        });
        let area = prop_oneof![
            Just("010".to_string()),
            (0u8..=9).prop_map(|d| format!("02{d}")),
            (3u8..=9, 10u8..=99).prop_map(|(a, b)| format!("0{a}{b}")),
        ];
        let landline =
            (area, 1u8..=9, 0u32..=9_999_999, any::<bool>(), proptest::option::of(1u32..=999_999), any::<bool>())
                .prop_map(|(area, first, rest, eight, ext, zhuan)| {
                    let local =
                        if eight { format!("{first}{rest:07}") } else { format!("{first}{:06}", rest % 1_000_000) };
                    let ext = match (ext, zhuan) {
                        (Some(e), true) => format!("转{e}"),
                        (Some(e), false) => format!("-{e}"),
                        (None, _) => String::new(),
                    };
                    format!("{area}-{local}{ext}")
                });
        prop_oneof![mobile, landline]
    }

    proptest! {
        #[test]
        fn every_generated_valid_id_parses(s in valid_id()) {
            let doc = id(&s).unwrap();
            prop_assert_eq!(doc.number(), s.as_str());
            prop_assert!(doc.birth_date().is_some());
        }

        #[test]
        fn changing_one_digit_of_a_valid_id_is_refused(
            s in valid_id(), pos in 0usize..18, delta in 1u8..=9,
        ) {
            let mut b = s.into_bytes();
            if b[pos] == b'X' {
                b[pos] = b'0' + delta;
            } else {
                b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            }
            let changed = String::from_utf8(b).unwrap();
            let err = id(&changed).unwrap_err();
            assert_translatable(&err);
        }

        #[test]
        fn r_arc_1_id_mask_hides_the_middle_and_keeps_the_length(s in valid_id()) {
            let m = id(&s).unwrap().masked();
            prop_assert_eq!(m.len(), 18);
            prop_assert_eq!(&m[..3], &s[..3]);
            prop_assert_eq!(&m[14..], &s[14..]);
            prop_assert!(m[3..14].bytes().all(|b| b == b'*'));
        }

        #[test]
        fn r_arc_1_other_masks_reveal_about_a_third(s in "[A-Z0-9]{2,30}") {
            let doc = IdDocument::parse(IdKind::Other, &s, today()).unwrap();
            let m = doc.masked();
            prop_assert_eq!(m.len(), s.len());
            let shown = m.bytes().filter(|b| *b != b'*').count();
            prop_assert!(shown <= s.len().div_ceil(3).max(2), "{} shows {}", m, shown);
            prop_assert!(m.contains('*'));
        }

        #[test]
        fn phone_parse_is_idempotent(s in valid_phone_input()) {
            let p = Phone::parse(&s).unwrap();
            let again = Phone::parse(p.as_str()).unwrap();
            prop_assert_eq!(&again, &p);
            prop_assert_eq!(again.last4().len(), 4);
        }

        #[test]
        fn phone_parse_is_idempotent_on_anything_it_accepts(
            s in "[0-9 +()转-]{0,20}|\\PC{0,20}",
        ) {
            match Phone::parse(&s) {
                Ok(p) => prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p),
                Err(e) => assert_translatable(&e),
            }
        }

        #[test]
        fn r_arc_1_masked_mobile_keeps_only_first_3_and_last_4(
            second in 3u8..=9, rest in 0u64..=999_999_999,
        ) {
            let d = format!("1{second}{rest:09}");
            let m = Phone::parse(&d).unwrap().masked();
            prop_assert_eq!(m.len(), 11);
            prop_assert_eq!(&m[..3], &d[..3]);
            prop_assert_eq!(&m[3..7], "****");
            prop_assert_eq!(&m[7..], &d[7..]);
        }

        #[test]
        fn r_arc_1_masked_landline_hides_all_but_area_and_last_4(s in valid_phone_input()) {
            let p = Phone::parse(&s).unwrap();
            let m = p.masked();
            let digits_shown = m.bytes().filter(u8::is_ascii_digit).count();
            let area = p.area_code().map_or(3, str::len);
            prop_assert_eq!(digits_shown, area + 4);
            prop_assert!(m.ends_with(p.last4()));
        }

        #[test]
        fn names_parse_is_idempotent(s in "\\PC{0,50}") {
            match PersonName::parse(&s) {
                Ok(n) => {
                    prop_assert_eq!(&PersonName::parse(n.as_str()).unwrap(), &n);
                    prop_assert!(!n.as_str().chars().any(|c| c.is_ascii_digit()));
                    prop_assert!(n.as_str().chars().count() <= PersonName::MAX_CHARS);
                }
                Err(e) => assert_translatable(&e),
            }
        }

        #[test]
        fn id_parse_errors_are_translatable(kind in 0usize..6, s in "\\PC{0,20}") {
            if let Err(e) = IdDocument::parse(IdKind::ALL[kind], &s, today()) {
                assert_translatable(&e);
            }
        }

        #[test]
        fn r_arc_1_mask_text_never_shows_more_than_half(s in "\\PC{1,60}", keep in 1usize..8) {
            let m = mask_text(&s, keep);
            let n = s.trim().chars().count();
            if n > 0 {
                prop_assert!(m.ends_with("****"));
                let shown = m.chars().count() - 4;
                prop_assert!(shown >= 1 && shown <= keep);
                prop_assert!(shown == 1 || shown <= n / 2);
            } else {
                prop_assert_eq!(m, "");
            }
        }
    }
}
