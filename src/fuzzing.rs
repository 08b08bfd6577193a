//! The parsers of outside input, each as one function of arbitrary bytes, for the fuzz
//! targets in `fuzz/` (libFuzzer through cargo-fuzz) and for the tests that replay the
//! fuzz corpus and throw random input at them. Each must never panic, and where a value
//! is accepted its canonical form must be accepted again as the same value.
//!
//! Targets: `import` (CSV in UTF-8 or GBK, XLSX/XLS, then every row as a unit and a
//! person), `id_number`, `phone`, `room_no` (with floor and area), `money`, `signature`
//! (a drawn signature's data URL, and any upload's type sniffing).

use huiqian_domain::money::Money;
use huiqian_domain::person::{IdDocument, IdKind, PersonName, Phone};
use huiqian_domain::unit::{Area, Floor, RoomNo};

/// A parser under fuzzing: any bytes in, a panic on a defect.
pub type Target = fn(&[u8]);

/// Every target, by name (the fuzz target and corpus folder names).
pub const TARGETS: &[(&str, Target)] = &[
    ("import", import),
    ("id_number", id_number),
    ("phone", phone),
    ("room_no", room_no),
    ("money", money),
    ("signature", signature),
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A spreadsheet upload: the first byte picks the file name the browser sent.
pub fn import(data: &[u8]) {
    use crate::app::import::decode;
    use crate::app::org::{UnitInput, parse_unit};
    use crate::app::people::{PersonInput, parse_person};
    let (name, bytes) = match data.split_first() {
        Some((b, rest)) => (["owners.csv", "owners.xlsx", "owners.xls", "业主.CSV"][usize::from(*b % 4)], rest),
        None => ("owners.csv", data),
    };
    let Ok(table) = decode(name, bytes) else { return };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
    for (_, row) in table.rows.iter().take(200) {
        let cell = |i: usize| row.get(i).cloned().unwrap_or_default();
        let mut errors = huiqian_domain::validation::FieldErrors::default();
        let unit = UnitInput { room_no: cell(0), floor: cell(1), area: cell(2), status: cell(3), active: true };
        let _ = parse_unit(&unit, &mut errors);
        let person = PersonInput {
            name: cell(4),
            phone: cell(5),
            id_kind: cell(6),
            id_number: cell(7),
            employer: cell(8),
            address: cell(9),
            ..Default::default()
        };
        let _ = parse_person(&person, today, &mut errors);
    }
}

/// An identity number of each kind; an accepted one is accepted again as stored, and
/// its masked form never shows it whole.
pub fn id_number(data: &[u8]) {
    let s = text(data);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
    for kind in IdKind::ALL {
        if let Ok(doc) = IdDocument::parse(kind, &s, today) {
            let again = IdDocument::parse(kind, doc.number(), today).expect("the stored form parses");
            assert_eq!(again, doc);
            if doc.number().len() > 8 {
                assert_ne!(doc.masked(), doc.number(), "masked");
            }
        }
    }
    let _ = IdKind::parse(&s);
    let _ = PersonName::parse(&s);
}

/// A phone number as typed; an accepted one is accepted again as stored.
pub fn phone(data: &[u8]) {
    let s = text(data);
    if let Ok(p) = Phone::parse(&s) {
        assert_eq!(Phone::parse(p.as_str()).expect("the stored form parses"), p);
        let _ = p.masked();
    }
    if let Ok(p) = Phone::parse_mobile(&s) {
        assert_eq!(Phone::parse_mobile(p.as_str()).expect("the stored form parses"), p);
    }
}

/// A room number, a floor and an area as typed; accepted ones again as stored.
pub fn room_no(data: &[u8]) {
    let s = text(data);
    if let Ok(r) = RoomNo::parse(&s) {
        assert_eq!(RoomNo::parse(r.as_str()).expect("the stored form parses"), r);
        let _ = r.floor_hint();
    }
    if let Ok(f) = Floor::parse(&s) {
        assert_eq!(Floor::parse(&f.value().to_string()).expect("the stored form parses"), f);
    }
    if let Ok(a) = Area::parse(&s) {
        assert_eq!(Area::from_centi(a.as_centi()).expect("the stored form is valid"), a);
    }
}

/// An amount as typed; an accepted one is accepted again as printed.
pub fn money(data: &[u8]) {
    let s = text(data);
    if let Ok(m) = Money::parse(&s) {
        assert_eq!(Money::parse(&m.to_string()).expect("the printed form parses"), m, "{s:?} → {m}");
        assert_eq!(Money::parse(&m.yuan_string()).expect("the plain form parses"), m);
    }
}

/// A signature drawn on a canvas (`data:image/png;base64,…`), and an upload's type.
pub fn signature(data: &[u8]) {
    let s = text(data);
    if let Ok(png) = crate::app::files::signature_png(&s) {
        assert_eq!(crate::app::files::sniff(&png), Some("image/png"));
    }
    let _ = crate::app::files::sniff(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every input the fuzzers kept (`fuzz/corpus/<target>/`) and every seed
    /// (`fuzz/seeds/<target>/`) still runs through its parser without a panic.
    #[test]
    fn the_fuzz_corpus_replays() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut files = 0;
        for (name, target) in TARGETS {
            for dir in ["seeds", "corpus"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else { continue };
                for e in entries {
                    let path = e.unwrap().path();
                    let data = std::fs::read(&path).unwrap();
                    target(&data);
                    files += 1;
                }
            }
        }
        assert!(files >= TARGETS.len(), "every target has seeds in fuzz/seeds ({files} files found)");
    }

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn parsers_take_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            for (_, target) in TARGETS {
                target(&data);
            }
        }

        #[test]
        fn parsers_take_text_that_looks_like_theirs(
            s in "[0-9０-９XxHhMm¥￥元,.+\\-−/#号楼栋座单元室户 ]{0,24}"
        ) {
            for (_, target) in TARGETS {
                target(s.as_bytes());
            }
        }

        #[test]
        fn csv_rows_of_any_text_import_without_panicking(
            cells in proptest::collection::vec(proptest::collection::vec("[^\\x00]{0,12}", 0..12), 0..8),
            gbk in any::<bool>(),
        ) {
            let csv: String = cells.iter().map(|r| r.join(",") + "\n").collect();
            let bytes = if gbk { encoding_rs::GBK.encode(&csv).0.into_owned() } else { csv.into_bytes() };
            let mut data = vec![0u8];
            data.extend(bytes);
            import(&data);
        }
    }
}
