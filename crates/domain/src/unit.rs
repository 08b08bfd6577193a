//! The structure of a community: unit addresses, floors, areas, and the
//! codes for unit status, occupant relation and department.

use crate::money::{DecimalError, parse_decimal_2};
use crate::validation::{ValidationError, to_half_width};
use serde::{Deserialize, Serialize};
use std::fmt;

// ---------------------------------------------------------------------------
// RoomNo
// ---------------------------------------------------------------------------

/// A unit's canonical address within its community: `楼栋-单元-房号`
/// (`3-2-1502`) or, for buildings without entrances, `楼栋-房号` (`12-0801`).
///
/// Being canonical, it is the key by which staff find a unit however the
/// caller said it (`3号楼2单元1502室`, `3栋2单元1502`, `3/2/1502`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomNo {
    text: String,
    building_len: usize,
    /// Byte length of the entrance; 0 when the building has none.
    entrance_len: usize,
}

/// What a Chinese marker says about the number before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    None,
    Building,
    Entrance,
    Room,
}

impl RoomNo {
    /// Parses `3-2-1502`, `12-0801`, `A座1502`, `3号楼2单元1502室` and the like.
    /// Separators may be `-`, `—`, `－`, `/` or spaces; letters are upper-cased,
    /// leading zeros of numeric buildings and entrances are dropped, the room
    /// number is kept as written (`0801`).
    pub fn parse(s: &str) -> Result<RoomNo, ValidationError> {
        let s = to_half_width(s).trim().to_ascii_uppercase();
        if s.is_empty() {
            return Err(ValidationError::required());
        }
        let format = || ValidationError::new("room_no.format");

        let mut tokens: Vec<(String, Mark)> = Vec::new();
        let mut cur = String::new();
        let mut rest = s.as_str();
        while let Some(c) = rest.chars().next() {
            if c.is_ascii_alphanumeric() {
                cur.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            }
            if !cur.is_empty() {
                tokens.push((std::mem::take(&mut cur), Mark::None));
            }
            const MARKERS: &[(&str, Mark)] = &[
                ("号楼", Mark::Building),
                ("栋", Mark::Building),
                ("幢", Mark::Building),
                ("座", Mark::Building),
                ("楼", Mark::Building),
                ("#", Mark::Building),
                ("单元", Mark::Entrance),
                ("室", Mark::Room),
                ("户", Mark::Room),
                ("号", Mark::None),
            ];
            if let Some((m, mark)) = MARKERS.iter().find(|(m, _)| rest.starts_with(m)) {
                match tokens.last_mut() {
                    Some((_, last)) if *last == Mark::None => *last = *mark,
                    _ => return Err(format()),
                }
                rest = &rest[m.len()..];
            } else if matches!(c, ' ' | '-' | '—' | '–' | '/' | '\\') {
                rest = &rest[c.len_utf8()..];
            } else {
                return Err(format());
            }
        }
        if !cur.is_empty() {
            tokens.push((cur, Mark::None));
        }

        let marks_fit = |t: &(String, Mark), allowed: Mark| t.1 == Mark::None || t.1 == allowed;
        let (building, entrance, room) = match tokens.as_slice() {
            [b, r] if marks_fit(b, Mark::Building) && marks_fit(r, Mark::Room) => (b, None, r),
            [b, e, r] if marks_fit(b, Mark::Building) && marks_fit(e, Mark::Entrance) && marks_fit(r, Mark::Room) => {
                (b, Some(e), r)
            }
            _ => return Err(format()),
        };

        let building = strip_leading_zeros(&building.0);
        if building.is_empty() || building.len() > 6 {
            return Err(ValidationError::new("room_no.building"));
        }
        let entrance = match entrance {
            Some((e, _)) => {
                let stripped = strip_leading_zeros(e);
                if e.len() > 2 || !e.bytes().all(|b| b.is_ascii_digit()) || stripped.is_empty() {
                    return Err(ValidationError::new("room_no.entrance"));
                }
                Some(stripped)
            }
            None => None,
        };
        let room = &room.0;
        if !(3..=4).contains(&room.len())
            || !room.bytes().all(|b| b.is_ascii_digit())
            || room.parse::<u32>().is_ok_and(|n| n < 100)
        {
            return Err(ValidationError::new("room_no.room"));
        }

        let mut text = building.to_string();
        if let Some(e) = entrance {
            text.push('-');
            text.push_str(e);
        }
        text.push('-');
        text.push_str(room);
        Ok(RoomNo { text, building_len: building.len(), entrance_len: entrance.map_or(0, str::len) })
    }

    /// The canonical form, e.g. `3-2-1502`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn building(&self) -> &str {
        &self.text[..self.building_len]
    }

    /// The entrance (单元), if the building has them.
    pub fn entrance(&self) -> Option<&str> {
        (self.entrance_len > 0).then(|| &self.text[self.building_len + 1..self.building_len + 1 + self.entrance_len])
    }

    pub fn room(&self) -> &str {
        let start =
            if self.entrance_len > 0 { self.building_len + self.entrance_len + 2 } else { self.building_len + 1 };
        &self.text[start..]
    }

    /// The floor the room number suggests (1502 → 15, 0801 → 8), for
    /// dispatch and sorting; the unit's recorded floor is authoritative.
    pub fn floor_hint(&self) -> i32 {
        self.room().parse::<i32>().map_or(0, |n| n / 100)
    }
}

/// Numbers such as `03` and `3` name the same building or entrance.
fn strip_leading_zeros(s: &str) -> &str {
    if s.bytes().all(|b| b.is_ascii_digit()) { s.trim_start_matches('0') } else { s }
}

impl fmt::Display for RoomNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for RoomNo {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RoomNo::parse(&s)
    }
}

impl From<RoomNo> for String {
    fn from(r: RoomNo) -> String {
        r.text
    }
}

// ---------------------------------------------------------------------------
// Floor
// ---------------------------------------------------------------------------

/// A floor number: 1 upwards, basements negative (B1 = -1); there is no floor 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct Floor(i32);

impl Floor {
    pub const MIN: i32 = -5;
    pub const MAX: i32 = 200;

    pub fn new(n: i32) -> Result<Floor, ValidationError> {
        if n == 0 {
            Err(ValidationError::new("floor.zero"))
        } else if !(Self::MIN..=Self::MAX).contains(&n) {
            Err(ValidationError::new("floor.out_of_range").with("min", Self::MIN).with("max", Self::MAX))
        } else {
            Ok(Floor(n))
        }
    }

    /// Parses `15`, `15层`, `15F`, `-1`, `B1`, `负1`, `地下1层`.
    pub fn parse(s: &str) -> Result<Floor, ValidationError> {
        let s: String =
            to_half_width(s).chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        if s.is_empty() {
            return Err(ValidationError::required());
        }
        let s = s.strip_suffix('层').or_else(|| s.strip_suffix('楼')).or_else(|| s.strip_suffix('F')).unwrap_or(&s);
        let (negative, digits) =
            ["-", "B", "负", "地下"].iter().find_map(|p| s.strip_prefix(p).map(|d| (true, d))).unwrap_or((false, s));
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new("floor.format"));
        }
        let n: i32 = digits.parse().map_err(|_| ValidationError::new("floor.format"))?;
        Floor::new(if negative { -n } else { n })
    }

    pub fn value(self) -> i32 {
        self.0
    }

    pub fn is_basement(self) -> bool {
        self.0 < 0
    }
}

/// Basements show as `B1`, `B2`, as on lift buttons.
impl fmt::Display for Floor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 { write!(f, "B{}", -self.0) } else { write!(f, "{}", self.0) }
    }
}

impl TryFrom<i32> for Floor {
    type Error = ValidationError;
    fn try_from(n: i32) -> Result<Self, Self::Error> {
        Floor::new(n)
    }
}

impl From<Floor> for i32 {
    fn from(f: Floor) -> i32 {
        f.0
    }
}

// ---------------------------------------------------------------------------
// Area
// ---------------------------------------------------------------------------

/// A floor area, exact to 0.01 m² (as on the property certificate), stored
/// as integer hundredths so fees computed from it never meet rounding error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Area(i64);

impl Area {
    /// 100 000 m², in hundredths: larger than any single unit.
    pub const MAX_CENTI: i64 = 10_000_000;

    /// From hundredths of a square metre.
    pub fn from_centi(centi_m2: i64) -> Result<Area, ValidationError> {
        if centi_m2 <= 0 || centi_m2 > Self::MAX_CENTI {
            return Err(ValidationError::new("area.out_of_range").with("max", Self::MAX_CENTI / 100));
        }
        Ok(Area(centi_m2))
    }

    /// Parses `89.5`, `89.50`, `89.5㎡`, `89.5m2`, `89.5 平方米`.
    pub fn parse(s: &str) -> Result<Area, ValidationError> {
        let s = to_half_width(s);
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::required());
        }
        let lower = s.to_ascii_lowercase();
        let number = ["平方米", "平米", "平", "㎡", "m2", "m²"]
            .iter()
            .find_map(|u| lower.strip_suffix(u))
            .unwrap_or(&lower)
            .trim_end();
        let (negative, number) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number),
        };
        let centi = match parse_decimal_2(number) {
            Ok(v) => v,
            Err(DecimalError::Format) => return Err(ValidationError::new("area.format")),
            Err(DecimalError::Precision) => return Err(ValidationError::new("area.precision")),
            Err(DecimalError::Overflow) => i128::MAX,
        };
        let centi = if negative { -centi } else { centi };
        Area::from_centi(i64::try_from(centi).unwrap_or(i64::MAX))
    }

    /// Hundredths of a square metre.
    pub fn as_centi(self) -> i64 {
        self.0
    }
}

/// Always two decimals, `89.50`, as areas are printed on certificates.
impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl TryFrom<String> for Area {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Area::parse(&s)
    }
}

impl From<Area> for String {
    fn from(a: Area) -> String {
        a.to_string()
    }
}

// ---------------------------------------------------------------------------
// Code enums
// ---------------------------------------------------------------------------

/// Declares a closed set of codes with labels, Chinese aliases for parsing,
/// and an error code for unknown input.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident, unknown = $unknown:literal, {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal, $zh:literal, $en:literal
               $(, aliases [$($alias:literal),*])? ; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stable code stored in the database and used in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)* }
            }

            /// Accepts the code, the Chinese label or a common Chinese synonym.
            pub fn parse(s: &str) -> Result<$name, ValidationError> {
                let s = s.trim();
                if s.is_empty() {
                    return Err(ValidationError::required());
                }
                $(
                    if s == $code || s == $zh $($(|| s == $alias)*)? {
                        return Ok($name::$variant);
                    }
                )*
                Err(ValidationError::new($unknown))
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)* }
            }

            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum! {
    /// Whether a unit is empty, lived in, or being renovated (which the desk
    /// must know for decoration permits and noise complaints).
    UnitStatus, unknown = "unit_status.unknown", {
        Vacant => "vacant", "空置", "Vacant";
        Occupied => "occupied", "已入住", "Occupied", aliases ["入住"];
        Renovating => "renovating", "装修中", "Under renovation", aliases ["装修"];
    }
}

code_enum! {
    /// How a person is related to a unit, which decides what they may ask the desk to do.
    OccupantRelation, unknown = "relation.unknown", {
        Owner => "owner", "业主", "Owner";
        Tenant => "tenant", "租户", "Tenant";
        Family => "family", "家属", "Family member", aliases ["家庭成员"];
        Agent => "agent", "委托人", "Authorised agent", aliases ["代理人"];
    }
}

code_enum! {
    /// The departments of a service centre, to which requests are dispatched.
    DepartmentKind, unknown = "department.unknown", {
        CustomerService => "customer_service", "客服部", "Customer service";
        Engineering => "engineering", "工程部", "Engineering";
        Security => "security", "安保部", "Security";
        Finance => "finance", "财务部", "Finance";
        Cleaning => "cleaning", "保洁部", "Cleaning";
        Greening => "greening", "绿化部", "Landscaping";
        Administration => "administration", "行政部", "Administration";
        DirectorOffice => "director_office", "中心主任办公室", "Director's office";
    }
}

/// Text order where runs of digits compare as numbers (`3` < `10`, `HY/9` < `HY/12`).
pub fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&a[..da], &b[..db]);
                let (ta, tb) = (trim_zeros(na), trim_zeros(nb));
                let ord = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb)).then_with(|| da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn trim_zeros(n: &[u8]) -> &[u8] {
    let z = n.iter().take_while(|c| **c == b'0').count();
    &n[z.min(n.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::assert_translatable;
    use proptest::prelude::*;

    fn code<T: fmt::Debug>(r: Result<T, ValidationError>) -> &'static str {
        let e = r.unwrap_err();
        assert_translatable(&e);
        e.code
    }

    fn room(s: &str) -> String {
        RoomNo::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).as_str().to_string()
    }

    #[test]
    fn room_numbers_are_normalised() {
        for s in [
            "3-2-1502",
            "3—2—1502",
            "3－2－1502",
            "3/2/1502",
            "3 2 1502",
            " 3 - 2 - 1502 ",
            "3号楼2单元1502",
            "3号楼2单元1502室",
            "3栋2单元1502室",
            "3幢2单元1502",
            "3#2单元1502",
            "3号楼 2单元 1502",
            "03-02-1502",
            "３号楼２单元１５０２",
            "3号2单元1502号",
        ] {
            assert_eq!(room(s), "3-2-1502", "{s}");
        }
        assert_eq!(room("12-0801"), "12-0801");
        assert_eq!(room("A座1502"), "A-1502");
        assert_eq!(room("a3-1-101"), "A3-1-101");
        assert_eq!(room("b栋0801室"), "B-0801");
    }

    #[test]
    fn room_number_parts() {
        let r = RoomNo::parse("3号楼2单元1502").unwrap();
        assert_eq!(r.building(), "3");
        assert_eq!(r.entrance(), Some("2"));
        assert_eq!(r.room(), "1502");
        assert_eq!(r.floor_hint(), 15);
        assert_eq!(r.to_string(), "3-2-1502");

        let r = RoomNo::parse("A3-12-0801").unwrap();
        assert_eq!(r.building(), "A3");
        assert_eq!(r.entrance(), Some("12"));
        assert_eq!(r.room(), "0801");
        assert_eq!(r.floor_hint(), 8);

        let r = RoomNo::parse("12-801").unwrap();
        assert_eq!(r.building(), "12");
        assert_eq!(r.entrance(), None);
        assert_eq!(r.room(), "801");
        assert_eq!(r.floor_hint(), 8);
        assert_eq!(RoomNo::parse("1-101").unwrap().floor_hint(), 1);
    }

    #[test]
    fn bad_room_numbers_are_refused() {
        assert_eq!(code(RoomNo::parse("")), "required");
        assert_eq!(code(RoomNo::parse("1502")), "room_no.format");
        assert_eq!(code(RoomNo::parse("3-2-15-02")), "room_no.format");
        assert_eq!(code(RoomNo::parse("2单元1502")), "room_no.format");
        assert_eq!(code(RoomNo::parse("3号楼1502单元")), "room_no.format");
        assert_eq!(code(RoomNo::parse("3_2_1502")), "room_no.format");
        assert_eq!(code(RoomNo::parse("三号楼2单元1502")), "room_no.format");
        assert_eq!(code(RoomNo::parse("ABCDEFG-1502")), "room_no.building");
        assert_eq!(code(RoomNo::parse("0-1502")), "room_no.building");
        assert_eq!(code(RoomNo::parse("3-123-1502")), "room_no.entrance");
        assert_eq!(code(RoomNo::parse("3-A-1502")), "room_no.entrance");
        assert_eq!(code(RoomNo::parse("3-0-1502")), "room_no.entrance");
        assert_eq!(code(RoomNo::parse("3-2-15")), "room_no.room");
        assert_eq!(code(RoomNo::parse("3-2-15020")), "room_no.room");
        assert_eq!(code(RoomNo::parse("3-2-15A")), "room_no.room");
        assert_eq!(code(RoomNo::parse("3-2-0050")), "room_no.room");
    }

    #[test]
    fn floors() {
        let f = |s: &str| Floor::parse(s).map(Floor::value);
        assert_eq!(f("15"), Ok(15));
        assert_eq!(f("15层"), Ok(15));
        assert_eq!(f("15F"), Ok(15));
        assert_eq!(f("-1"), Ok(-1));
        assert_eq!(f("B1"), Ok(-1));
        assert_eq!(f("b2"), Ok(-2));
        assert_eq!(f("负1"), Ok(-1));
        assert_eq!(f("地下2层"), Ok(-2));
        assert_eq!(f("２００"), Ok(200));
        assert_eq!(f("-5"), Ok(-5));
        assert_eq!(code(f("")), "required");
        assert_eq!(code(f("0")), "floor.zero");
        assert_eq!(code(f("B0")), "floor.zero");
        assert_eq!(code(f("201")), "floor.out_of_range");
        assert_eq!(code(f("-6")), "floor.out_of_range");
        assert_eq!(code(f("99999")), "floor.format");
        assert_eq!(code(f("一楼")), "floor.format");
        assert_eq!(code(f("1.5")), "floor.format");
        assert_eq!(code(f("B")), "floor.format");
        assert_eq!(Floor::new(-1).unwrap().to_string(), "B1");
        assert_eq!(Floor::new(15).unwrap().to_string(), "15");
        assert!(Floor::new(-1).unwrap().is_basement());
    }

    #[test]
    fn areas_are_exact() {
        let a = |s: &str| Area::parse(s).map(Area::as_centi);
        assert_eq!(a("89.5"), Ok(8950));
        assert_eq!(a("89.50"), Ok(8950));
        assert_eq!(a("89.5㎡"), Ok(8950));
        assert_eq!(a("89.5m2"), Ok(8950));
        assert_eq!(a("89.5M2"), Ok(8950));
        assert_eq!(a("89.5 平方米"), Ok(8950));
        assert_eq!(a("89.5平米"), Ok(8950));
        assert_eq!(a("89"), Ok(8900));
        assert_eq!(a("0.01"), Ok(1));
        assert_eq!(a("１２０．０５"), Ok(12005));
        assert_eq!(a("100000"), Ok(10_000_000));
        assert_eq!(code(a("")), "required");
        assert_eq!(code(a("89.505")), "area.precision");
        assert_eq!(code(a("89.500")), "area.precision");
        assert_eq!(code(a("0")), "area.out_of_range");
        assert_eq!(code(a("-3")), "area.out_of_range");
        assert_eq!(code(a("100000.01")), "area.out_of_range");
        assert_eq!(code(a("99999999999999999999999")), "area.out_of_range");
        assert_eq!(Area::parse("0").unwrap_err().param("max"), Some("100000"));
        assert_eq!(code(a("89,5")), "area.format");
        assert_eq!(code(a("89.")), "area.format");
        assert_eq!(code(a(".5")), "area.format");
        assert_eq!(code(a("约90")), "area.format");
        assert_eq!(code(a("㎡")), "area.format");
        assert_eq!(Area::parse("89.5").unwrap().to_string(), "89.50");
        assert_eq!(Area::from_centi(5).unwrap().to_string(), "0.05");
    }

    #[test]
    fn code_enums_round_trip() {
        for s in UnitStatus::ALL {
            assert_eq!(UnitStatus::parse(s.as_str()), Ok(*s));
            assert_eq!(UnitStatus::parse(s.label_zh()), Ok(*s));
        }
        for r in OccupantRelation::ALL {
            assert_eq!(OccupantRelation::parse(r.as_str()), Ok(*r));
            assert_eq!(OccupantRelation::parse(r.label_zh()), Ok(*r));
        }
        for d in DepartmentKind::ALL {
            assert_eq!(DepartmentKind::parse(d.as_str()), Ok(*d));
            assert_eq!(DepartmentKind::parse(d.label_zh()), Ok(*d));
            assert!(!d.label_en().is_empty());
        }
        assert_eq!(DepartmentKind::ALL.len(), 8);
    }

    #[test]
    fn code_enums_accept_chinese_synonyms() {
        assert_eq!(UnitStatus::parse("空置"), Ok(UnitStatus::Vacant));
        assert_eq!(UnitStatus::parse("入住"), Ok(UnitStatus::Occupied));
        assert_eq!(UnitStatus::parse("已入住"), Ok(UnitStatus::Occupied));
        assert_eq!(UnitStatus::parse("装修"), Ok(UnitStatus::Renovating));
        assert_eq!(UnitStatus::parse(" 装修中 "), Ok(UnitStatus::Renovating));
        assert_eq!(OccupantRelation::parse("业主"), Ok(OccupantRelation::Owner));
        assert_eq!(OccupantRelation::parse("租户"), Ok(OccupantRelation::Tenant));
        assert_eq!(OccupantRelation::parse("家属"), Ok(OccupantRelation::Family));
        assert_eq!(OccupantRelation::parse("家庭成员"), Ok(OccupantRelation::Family));
        assert_eq!(OccupantRelation::parse("委托人"), Ok(OccupantRelation::Agent));
        assert_eq!(OccupantRelation::parse("代理人"), Ok(OccupantRelation::Agent));
        assert_eq!(DepartmentKind::parse("中心主任办公室"), Ok(DepartmentKind::DirectorOffice));
        assert_eq!(code(UnitStatus::parse("出租")), "unit_status.unknown");
        assert_eq!(code(OccupantRelation::parse("邻居")), "relation.unknown");
        assert_eq!(code(DepartmentKind::parse("销售部")), "department.unknown");
        assert_eq!(code(DepartmentKind::parse(" ")), "required");
        assert_eq!(UnitStatus::Renovating.label_en(), "Under renovation");
        assert_eq!(DepartmentKind::Security.to_string(), "security");
    }

    fn valid_room() -> impl Strategy<Value = (String, Option<u8>, u32)> {
        ("[A-Z]{0,2}[1-9][0-9]{0,2}", proptest::option::of(1u8..=99), 100u32..=9999)
    }

    proptest! {
        #[test]
        fn room_parse_is_idempotent((b, e, r) in valid_room(), style in 0usize..3) {
            let input = match (e, style) {
                (Some(e), 0) => format!("{b}-{e}-{r}"),
                (Some(e), 1) => format!("{b}号楼{e}单元{r}室"),
                (Some(e), _) => format!("{b} / {e:02} / {r}"),
                (None, 0) => format!("{b}-{r}"),
                (None, _) => format!("{b}座{r}"),
            };
            let parsed = RoomNo::parse(&input).unwrap();
            prop_assert_eq!(parsed.building(), b.as_str());
            prop_assert_eq!(parsed.entrance().map(str::to_string), e.map(|e| e.to_string()));
            prop_assert_eq!(parsed.floor_hint(), i32::try_from(r / 100).unwrap());
            prop_assert_eq!(RoomNo::parse(parsed.as_str()).unwrap(), parsed);
        }

        #[test]
        fn room_parse_accepts_only_canonicalisable_input(s in "\\PC{0,16}") {
            match RoomNo::parse(&s) {
                Ok(r) => prop_assert_eq!(RoomNo::parse(r.as_str()).unwrap(), r),
                Err(e) => assert_translatable(&e),
            }
        }

        #[test]
        fn area_display_round_trips(c in 1i64..=Area::MAX_CENTI) {
            let a = Area::from_centi(c).unwrap();
            prop_assert_eq!(Area::parse(&a.to_string()), Ok(a));
        }

        #[test]
        fn floor_display_round_trips(n in Floor::MIN..=Floor::MAX) {
            if let Ok(f) = Floor::new(n) {
                prop_assert_eq!(Floor::parse(&f.to_string()), Ok(f));
            }
        }

        #[test]
        fn unit_parse_errors_are_translatable(s in "\\PC{0,12}") {
            for e in [
                Floor::parse(&s).err(),
                Area::parse(&s).err(),
                UnitStatus::parse(&s).err(),
            ].into_iter().flatten() {
                assert_translatable(&e);
            }
        }
    }
}
