//! Amounts of money in fen (分), exact: fees, deposits and charges are never floating point.

use crate::validation::{ValidationError, to_half_width};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a decimal string could not be read as hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalError {
    Format,
    Precision,
    Overflow,
}

/// Reads an unsigned decimal such as `89`, `89.5` or `89.50` as hundredths
/// (8950), exactly. More than two fraction digits is a precision error.
pub(crate) fn parse_decimal_2(s: &str) -> Result<i128, DecimalError> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (s, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) {
        return Err(DecimalError::Format);
    }
    let frac = match frac {
        None => 0,
        Some(f) if !all_digits(f) => return Err(DecimalError::Format),
        Some(f) if f.len() > 2 => return Err(DecimalError::Precision),
        Some(f) if f.len() == 1 => i128::from(f.as_bytes()[0] - b'0') * 10,
        Some(f) => f.parse::<i128>().map_err(|_| DecimalError::Format)?,
    };
    let int = int.trim_start_matches('0');
    if int.len() > 30 {
        return Err(DecimalError::Overflow);
    }
    let int: i128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| DecimalError::Format)? };
    Ok(int * 100 + frac)
}

/// An amount in fen (0.01 yuan). Serialised as the integer number of fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_fen(fen: i64) -> Money {
        Money(fen)
    }

    /// Parses what staff type or a statement prints: `1,234.50`, `¥12.3`,
    /// `12`, `￥0.05`, `-3.20`, `-¥3.20`, `12元`. At most two decimals.
    pub fn parse(s: &str) -> Result<Money, ValidationError> {
        let s: String = to_half_width(s).chars().filter(|c| !c.is_whitespace()).collect();
        if s.is_empty() {
            return Err(ValidationError::required());
        }
        let format = || ValidationError::new("money.format");
        let mut rest = s.as_str();
        let mut negative = None;
        let mut take_sign = |rest: &mut &str| {
            if negative.is_none() {
                if let Some(r) = rest.strip_prefix(['-', '−']) {
                    *rest = r;
                    negative = Some(true);
                } else if let Some(r) = rest.strip_prefix('+') {
                    *rest = r;
                    negative = Some(false);
                }
            }
        };
        take_sign(&mut rest);
        rest = rest.strip_prefix(['¥', '￥']).unwrap_or(rest);
        take_sign(&mut rest);
        let negative = negative == Some(true);
        rest = rest.strip_suffix('元').unwrap_or(rest);

        let (int, frac) = match rest.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (rest, None),
        };
        let int = if int.contains(',') {
            let mut groups = int.split(',');
            let first = groups.next().unwrap_or("");
            if !(1..=3).contains(&first.len()) || groups.any(|g| g.len() != 3) {
                return Err(format());
            }
            int.replace(',', "")
        } else {
            int.to_string()
        };
        let plain = match frac {
            Some(frac) => format!("{int}.{frac}"),
            None => int,
        };
        let fen = match parse_decimal_2(&plain) {
            Ok(v) => v,
            Err(DecimalError::Format) => return Err(format()),
            Err(DecimalError::Precision) => return Err(ValidationError::new("money.precision")),
            Err(DecimalError::Overflow) => return Err(ValidationError::new("money.out_of_range")),
        };
        let fen = if negative { -fen } else { fen };
        i64::try_from(fen).map(Money).map_err(|_| ValidationError::new("money.out_of_range"))
    }

    pub fn fen(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The plain decimal in yuan, `1234.50` or `-3.20`, for exports and form fields.
    pub fn yuan_string(self) -> String {
        let abs = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
}

/// `¥1,234.50`, negative `-¥3.20`: how amounts appear on screen and on receipts.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let digits = (abs / 100).to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}¥{grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::assert_translatable;
    use proptest::prelude::*;

    fn fen(s: &str) -> Result<i64, ValidationError> {
        Money::parse(s).map(Money::fen)
    }

    fn code(r: Result<i64, ValidationError>) -> &'static str {
        let e = r.unwrap_err();
        assert_translatable(&e);
        e.code
    }

    #[test]
    fn amounts_are_parsed_exactly() {
        assert_eq!(fen("1,234.50"), Ok(123_450));
        assert_eq!(fen("¥12.3"), Ok(1230));
        assert_eq!(fen("12"), Ok(1200));
        assert_eq!(fen("￥0.05"), Ok(5));
        assert_eq!(fen("-3.20"), Ok(-320));
        assert_eq!(fen("-¥3.20"), Ok(-320));
        assert_eq!(fen("¥-3.20"), Ok(-320));
        assert_eq!(fen("+5"), Ok(500));
        assert_eq!(fen(" ¥ 1,234,567.89 "), Ok(123_456_789));
        assert_eq!(fen("12元"), Ok(1200));
        assert_eq!(fen("１２．３"), Ok(1230));
        assert_eq!(fen("0.1"), Ok(10));
        assert_eq!(fen("-0"), Ok(0));
        assert_eq!(fen("92233720368547758.07"), Ok(i64::MAX));
        assert_eq!(fen("-92233720368547758.08"), Ok(i64::MIN));
    }

    #[test]
    fn bad_amounts_are_refused() {
        assert_eq!(code(fen("")), "required");
        assert_eq!(code(fen("12.345")), "money.precision");
        assert_eq!(code(fen("0.001")), "money.precision");
        assert_eq!(code(fen("1,23.5")), "money.format");
        assert_eq!(code(fen("1234,567")), "money.format");
        assert_eq!(code(fen(",123")), "money.format");
        assert_eq!(code(fen("12.")), "money.format");
        assert_eq!(code(fen(".5")), "money.format");
        assert_eq!(code(fen("--3")), "money.format");
        assert_eq!(code(fen("-¥-3")), "money.format");
        assert_eq!(code(fen("1.2.3")), "money.format");
        assert_eq!(code(fen("12块")), "money.format");
        assert_eq!(code(fen("¥")), "money.format");
        assert_eq!(code(fen("92233720368547758.08")), "money.out_of_range");
        assert_eq!(code(fen(&"9".repeat(40))), "money.out_of_range");
    }

    #[test]
    fn amounts_are_displayed_with_yuan_sign_and_grouping() {
        assert_eq!(Money::from_fen(123_450).to_string(), "¥1,234.50");
        assert_eq!(Money::from_fen(-320).to_string(), "-¥3.20");
        assert_eq!(Money::from_fen(5).to_string(), "¥0.05");
        assert_eq!(Money::ZERO.to_string(), "¥0.00");
        assert_eq!(Money::from_fen(100_000_000).to_string(), "¥1,000,000.00");
        assert_eq!(Money::from_fen(i64::MIN).to_string(), "-¥92,233,720,368,547,758.08");
        assert_eq!(Money::from_fen(123_450).yuan_string(), "1234.50");
        assert_eq!(Money::from_fen(-320).yuan_string(), "-3.20");
        assert_eq!(Money::from_fen(-5).yuan_string(), "-0.05");
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::from_fen(150);
        assert_eq!(a.checked_add(Money::from_fen(50)), Some(Money::from_fen(200)));
        assert_eq!(a.checked_sub(Money::from_fen(200)), Some(Money::from_fen(-50)));
        assert_eq!(Money::from_fen(i64::MAX).checked_add(Money::from_fen(1)), None);
        assert_eq!(Money::from_fen(i64::MIN).checked_sub(Money::from_fen(1)), None);
        assert!(Money::from_fen(-1).is_negative());
        assert!(Money::ZERO.is_zero());
    }

    #[test]
    fn decimal_reader() {
        assert_eq!(parse_decimal_2("007.5"), Ok(750));
        assert_eq!(parse_decimal_2("0"), Ok(0));
        assert_eq!(parse_decimal_2("1.234"), Err(DecimalError::Precision));
        assert_eq!(parse_decimal_2("1.2a"), Err(DecimalError::Format));
        assert_eq!(parse_decimal_2(""), Err(DecimalError::Format));
        assert_eq!(parse_decimal_2("-1"), Err(DecimalError::Format));
    }

    proptest! {
        #[test]
        fn display_and_yuan_string_round_trip(f in -10_000_000_000_000i64..=10_000_000_000_000) {
            let m = Money::from_fen(f);
            prop_assert_eq!(Money::parse(&m.to_string()), Ok(m));
            prop_assert_eq!(Money::parse(&m.yuan_string()), Ok(m));
        }

        #[test]
        fn any_i64_round_trips(f in any::<i64>()) {
            let m = Money::from_fen(f);
            prop_assert_eq!(Money::parse(&m.to_string()), Ok(m));
        }

        #[test]
        fn parse_errors_are_translatable(s in "[0-9¥￥.,+元 -]{0,24}|\\PC{0,24}") {
            if let Err(e) = Money::parse(&s) {
                assert_translatable(&e);
            }
        }
    }
}
