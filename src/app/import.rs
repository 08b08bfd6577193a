//! Bulk import of units and their owners from a spreadsheet (CSV in UTF-8 with or
//! without BOM or GBK/GB18030 as Excel saves it on Chinese Windows, or XLSX/XLS).
//!
//! One row per unit and person: `房号, 楼层, 建筑面积, 状态, 姓名, 手机, 证件类型, 证件号码,
//! 工作单位, 通讯地址, 关系`. Buildings are created from the room numbers. A dry run reports
//! every bad row; the real import writes nothing unless every row is good, all in one
//! transaction.

use super::people::{PersonInput, parse_person, seal, today_in};
use super::{
    Actor, App, AppError, AppResult, audit,
    org::{UnitInput, parse_unit},
};
use crate::store::{org, people as pst};
use huiqian_domain::auth::Permission;
use huiqian_domain::unit::{OccupantRelation, UnitStatus};
use huiqian_domain::validation::{FieldErrors, ValidationError};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

/// The columns huiqian understands, with the header names people use for them.
const COLUMNS: &[(&str, &[&str])] = &[
    ("room_no", &["房号", "房屋编号", "房间号", "room_no", "room"]),
    ("floor", &["楼层", "floor"]),
    ("area", &["建筑面积", "面积", "面积(㎡)", "建筑面积(㎡)", "area"]),
    ("status", &["状态", "房屋状态", "status"]),
    ("building_name", &["楼栋名称", "building_name"]),
    ("name", &["姓名", "业主姓名", "住户姓名", "name"]),
    ("phone", &["手机", "手机号", "电话", "联系电话", "phone"]),
    ("id_kind", &["证件类型", "id_kind"]),
    ("id_number", &["证件号码", "身份证号", "身份证号码", "id_number"]),
    ("employer", &["工作单位", "employer"]),
    ("address", &["通讯地址", "地址", "联系地址", "address"]),
    ("relation", &["关系", "与房屋关系", "relation"]),
];

/// One problem in one cell (or row) of the file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// Row number as the spreadsheet shows it (the header is row 1).
    pub row: usize,
    /// The column's header as written in the file (empty for whole-row problems).
    pub column: String,
    pub code: String,
    #[schema(value_type = Object)]
    pub params: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Data rows read (blank rows skipped).
    pub rows: usize,
    pub buildings_new: usize,
    pub units_new: usize,
    pub persons_new: usize,
    pub errors: Vec<RowError>,
    /// Whether anything was written.
    pub applied: bool,
}

/// A decoded table: header and rows of text cells.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Decode an uploaded file into a table. The format is recognised from its content
/// (XLSX/XLS signatures), then from the file name; CSV text may be UTF-8 (with or without
/// BOM) or GB18030/GBK.
pub fn decode(filename: &str, bytes: &[u8]) -> Result<Table, ValidationError> {
    let lower = filename.to_lowercase();
    let is_zip = bytes.starts_with(b"PK\x03\x04");
    let is_ole = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    let table = if is_zip || is_ole || lower.ends_with(".xlsx") || lower.ends_with(".xls") {
        // The spreadsheet reader panics on some damaged files (found by fuzzing): such
        // a file is unreadable, not a reason to drop the request.
        std::panic::catch_unwind(|| decode_workbook(bytes))
            .unwrap_or_else(|_| Err(ValidationError::new("import.unreadable")))?
    } else {
        decode_csv(bytes)?
    };
    // No text holds a NUL character (PostgreSQL refuses it; SQLite must not keep it).
    if let Some((row, _)) = table.rows.iter().find(|(_, cells)| cells.iter().any(|c| c.contains('\0'))) {
        return Err(ValidationError::new("import.nul").with("row", row.to_string()));
    }
    if table.header.iter().any(|c| c.contains('\0')) {
        return Err(ValidationError::new("import.nul").with("row", "1"));
    }
    Ok(table)
}

fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

fn decode_csv(bytes: &[u8]) -> Result<Table, ValidationError> {
    let text = decode_text(bytes);
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = rdr.records();
    let header = match records.next() {
        Some(Ok(h)) => h.iter().map(|s| s.trim().to_string()).collect(),
        Some(Err(_)) => return Err(ValidationError::new("import.unreadable")),
        None => return Err(ValidationError::new("import.empty")),
    };
    let mut rows = Vec::new();
    for (i, r) in records.enumerate() {
        let r = r.map_err(|_| ValidationError::new("import.unreadable").with("row", (i + 2).to_string()))?;
        rows.push((i + 2, r.iter().map(|s| s.to_string()).collect()));
    }
    Ok(Table { header, rows })
}

fn cell_text(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        // Excel stores room floors, phone numbers and areas as numbers: print them
        // without a spurious ".0" and without exponent notation.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => {
            let s = format!("{f:.6}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => excel_date(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(_) => String::new(),
    }
}

/// An Excel date serial number (days since 1899-12-30) as `YYYY-MM-DD`.
fn excel_date(serial: f64) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date");
    base.checked_add_signed(chrono::Duration::days(serial.floor() as i64)).map(|d| d.to_string()).unwrap_or_default()
}

fn decode_workbook(bytes: &[u8]) -> Result<Table, ValidationError> {
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|_| ValidationError::new("import.unreadable"))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| ValidationError::new("import.empty"))?
        .map_err(|_| ValidationError::new("import.unreadable"))?;
    let mut it = range.rows();
    let header: Vec<String> = it
        .next()
        .ok_or_else(|| ValidationError::new("import.empty"))?
        .iter()
        .map(|c| cell_text(c).trim().to_string())
        .collect();
    let start = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let rows = it.enumerate().map(|(i, r)| (start + i + 2, r.iter().map(cell_text).collect())).collect();
    Ok(Table { header, rows })
}

struct Prepared {
    building_code: String,
    unit: Option<super::org::ParsedUnit>,
    person: Option<super::people::ParsedPerson>,
    relation: OccupantRelation,
}

impl RowError {
    fn new(row: usize, column: String, code: &str) -> RowError {
        RowError { row, column, code: code.into(), params: HashMap::new() }
    }

    fn of(row: usize, column: String, e: &ValidationError) -> RowError {
        RowError {
            row,
            column,
            code: e.code.to_string(),
            params: e.params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }
}

/// Which of the file's columns holds each of ours, by any of the header names people use.
struct Columns {
    of: HashMap<&'static str, (usize, String)>,
}

impl Columns {
    /// The file's headers mapped to our columns; a required one missing is the file's error.
    fn map(header: &[String]) -> Result<Columns, Vec<RowError>> {
        let mut of: HashMap<&'static str, (usize, String)> = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            let norm = h.trim().trim_start_matches('\u{feff}').replace(['*', ' '], "").to_lowercase();
            if let Some((key, _)) = COLUMNS.iter().find(|(_, names)| names.iter().any(|n| n.to_lowercase() == norm)) {
                of.insert(key, (i, h.clone()));
            }
        }
        let missing: Vec<RowError> = ["room_no", "area"]
            .into_iter()
            .filter(|required| !of.contains_key(required))
            .map(|required| {
                let label = COLUMNS.iter().find(|(k, _)| *k == required).map(|(_, n)| n[0]).unwrap_or(required);
                RowError::new(1, label.to_string(), "import.missing_column")
            })
            .collect();
        if missing.is_empty() { Ok(Columns { of }) } else { Err(missing) }
    }

    fn get(&self, row: &[String], key: &str) -> String {
        self.of.get(key).and_then(|(i, _)| row.get(*i)).map(|s| s.trim().to_string()).unwrap_or_default()
    }

    /// The file's own header for a column, so an error names what the person sees.
    fn header(&self, key: &str) -> String {
        self.of.get(key).map(|(_, h)| h.clone()).unwrap_or_else(|| key.to_string())
    }
}

/// The file read row by row: each row parsed, and the rows checked against each other.
struct Parsed {
    rows: Vec<(usize, Prepared)>,
    /// Each room number's first row and its floor, area and status.
    units: HashMap<String, (usize, i64, i64, String)>,
}

/// Parse every row; a unit given twice must agree with itself, a person is not listed
/// twice for one unit.
fn parse_rows(table: &Table, cols: &Columns, today: chrono::NaiveDate, report: &mut ImportReport) -> Parsed {
    let mut rows: Vec<(usize, Prepared)> = Vec::new();
    let mut units: HashMap<String, (usize, i64, i64, String)> = HashMap::new();
    let mut seen_people: HashMap<(String, String), usize> = HashMap::new();
    for (rowno, row) in &table.rows {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        report.rows += 1;
        let get = |key: &str| cols.get(row, key);
        let mut errors = FieldErrors::default();
        let has_person = !get("name").is_empty();
        let status = match get("status") {
            s if s.is_empty() && has_person => UnitStatus::Occupied.as_str().to_string(),
            s => s,
        };
        let unit = parse_unit(
            &UnitInput { room_no: get("room_no"), floor: get("floor"), area: get("area"), status, active: true },
            &mut errors,
        );
        let person = if has_person || !get("phone").is_empty() || !get("id_number").is_empty() {
            let input = PersonInput {
                name: get("name"),
                phone: get("phone"),
                id_kind: get("id_kind"),
                id_number: get("id_number"),
                employer: get("employer"),
                address: get("address"),
                ..Default::default()
            };
            parse_person(&input, today, &mut errors)
        } else {
            None
        };
        let relation = if get("relation").is_empty() {
            Some(OccupantRelation::Owner)
        } else {
            OccupantRelation::parse(&get("relation")).map_err(|e| errors.push("relation", e)).ok()
        };
        if let Some(u) = &unit {
            let key = u.room.as_str().to_string();
            let sig = (u.floor, u.area.as_centi(), u.status.as_str().to_string());
            match units.get(&key) {
                Some((first, f, a, s)) if (*f, *a, s.clone()) != sig => {
                    errors.push("room_no", ValidationError::new("import.unit_conflict").with("row", first.to_string()));
                }
                Some(_) => {}
                None => {
                    units.insert(key.clone(), (*rowno, sig.0, sig.1, sig.2));
                }
            }
            if let Some(p) = &person {
                let pk = (key, p.name.as_str().to_string());
                if let Some(first) = seen_people.get(&pk) {
                    errors.push("name", ValidationError::new("import.duplicate_person").with("row", first.to_string()));
                } else {
                    seen_people.insert(pk, *rowno);
                }
            }
        }
        for (field, e) in errors.iter() {
            report.errors.push(RowError::of(*rowno, cols.header(field), e));
        }
        let building_code = unit.as_ref().map(|u| u.room.building().to_string()).unwrap_or_default();
        rows.push((
            *rowno,
            Prepared { building_code, unit, person, relation: relation.unwrap_or(OccupantRelation::Owner) },
        ));
    }
    if report.rows == 0 {
        report.errors.push(RowError::new(1, String::new(), "import.empty"));
    }
    Parsed { rows, units }
}

/// Compare the rows with what the company already holds: a room number taken in the
/// community, an ID number given twice in the file or held by someone already (R-ARC-1:
/// one ID number, one person in the company). Returns the buildings the import creates.
async fn check_against_holdings(
    app: &App,
    community: &org::Community,
    parsed: &Parsed,
    cols: &Columns,
    existing_buildings: &HashMap<String, i64>,
    report: &mut ImportReport,
) -> AppResult<Vec<String>> {
    let existing_rooms = crate::store::org::room_numbers(app.store.read(), community.id).await?;
    for (rowno, p) in &parsed.rows {
        if let Some(u) = &p.unit
            && existing_rooms.contains(u.room.as_str())
            && parsed.units.get(u.room.as_str()).map(|s| s.0) == Some(*rowno)
        {
            report.errors.push(RowError::new(*rowno, cols.header("room_no"), "unit.room_taken"));
        }
    }
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut hashed: Vec<(usize, String)> = vec![];
    for (rowno, p) in &parsed.rows {
        if let Some(doc) = p.person.as_ref().and_then(|x| x.id.as_ref()) {
            let h = app.secrets.lookup_hash("id", doc.number());
            match seen_ids.get(&h) {
                Some(first) => {
                    let mut e = RowError::new(*rowno, cols.header("id_number"), "import.duplicate_id");
                    e.params.insert("row".to_string(), first.to_string());
                    report.errors.push(e);
                }
                None => {
                    seen_ids.insert(h.clone(), *rowno);
                    hashed.push((*rowno, h));
                }
            }
        }
    }
    if !hashed.is_empty() {
        let mut conn = app.store.read().acquire().await?;
        let hashes: Vec<String> = hashed.iter().map(|(_, h)| h.clone()).collect();
        let owners = pst::id_owners(&mut conn, community.company_id, &hashes).await?;
        drop(conn);
        for (rowno, h) in &hashed {
            if let Some((_, owner)) = owners.iter().find(|(x, _)| x == h) {
                report.errors.push(RowError::of(*rowno, cols.header("id_number"), &super::people::id_taken(owner)));
            }
        }
    }
    let mut new_buildings: Vec<String> = parsed
        .rows
        .iter()
        .map(|(_, p)| p.building_code.clone())
        .filter(|c| !c.is_empty() && !existing_buildings.contains_key(c))
        .collect();
    new_buildings.sort();
    new_buildings.dedup();
    Ok(new_buildings)
}

/// Check (and unless `dry_run`, apply) an import into a community.
#[tracing::instrument(name = "import", skip_all, fields(community = community_id, user = actor.user_id(), bytes = bytes.len(), dry_run))]
pub async fn import_units_and_owners(
    app: &App,
    actor: &Actor,
    community_id: i64,
    filename: &str,
    bytes: &[u8],
    dry_run: bool,
) -> AppResult<ImportReport> {
    let authority = actor.authorize(Permission::ImportData, community_id)?;
    app.community_exists(community_id).await?;
    let community = org::community(app.store.read(), community_id).await?.ok_or(AppError::NotFound)?;
    let table = decode(filename, bytes).map_err(|e| AppError::field("file", e))?;
    let mut report = ImportReport { dry_run, ..Default::default() };
    let cols = match Columns::map(&table.header) {
        Ok(cols) => cols,
        Err(missing) => {
            report.errors = missing;
            return Ok(report);
        }
    };
    let now = app.clock.now();
    let zone = app.store.community_zone(community_id).await?.ok_or(AppError::NotFound)?;
    let parsed = parse_rows(&table, &cols, today_in(zone, now), &mut report);
    let existing_buildings: HashMap<String, i64> =
        org::buildings(app.store.read(), community_id).await?.into_iter().map(|b| (b.code, b.id)).collect();
    let new_buildings =
        check_against_holdings(app, &community, &parsed, &cols, &existing_buildings, &mut report).await?;
    report.buildings_new = new_buildings.len();
    report.units_new = parsed.units.len();
    report.persons_new = parsed.rows.iter().filter(|(_, p)| p.person.is_some()).count();
    report.errors.sort_by_key(|e| e.row);
    if dry_run || !report.errors.is_empty() {
        tracing::info!(rows = report.rows, errors = report.errors.len(), "import checked, nothing written");
        return Ok(report);
    }
    let mut tx = app.store.begin().await?;
    let (unit_ids, person_ids) =
        apply(app, &mut tx, community_id, &parsed, existing_buildings, &new_buildings, now).await?;
    let digest = crate::crypto::sha256_hex(bytes);
    audit::record(
        app,
        &mut tx,
        actor,
        &authority,
        "import.applied",
        "community",
        community_id,
        json!({
            "file": filename, "sha256": digest, "rows": report.rows, "buildings_new": report.buildings_new,
            "units_new": report.units_new, "persons_new": report.persons_new,
            "unit_ids": [unit_ids.first(), unit_ids.last()], "person_ids": [person_ids.first(), person_ids.last()],
        }),
    )
    .await?;
    tx.commit().await?;
    report.applied = true;
    tracing::info!(
        rows = report.rows,
        buildings = report.buildings_new,
        units = report.units_new,
        persons = report.persons_new,
        "import applied"
    );
    Ok(report)
}

/// Write the checked rows, all or nothing (the caller's transaction): the new buildings
/// (each as high as its highest unit), the units, the people sealed, and who lives where.
/// Returns the new units' and people's ids.
async fn apply(
    app: &App,
    tx: &mut sqlx::AnyConnection,
    community_id: i64,
    parsed: &Parsed,
    mut building_ids: HashMap<String, i64>,
    new_buildings: &[String],
    now: i64,
) -> AppResult<(Vec<i64>, Vec<i64>)> {
    let prepared = &parsed.rows;
    for code in new_buildings {
        let max_floor = prepared
            .iter()
            .filter(|(_, p)| &p.building_code == code)
            .filter_map(|(_, p)| p.unit.as_ref().map(|u| u.floor))
            .max()
            .unwrap_or(0);
        let id = org::insert_building(tx, community_id, code, &format!("{code}号楼"), max_floor, now).await?;
        building_ids.insert(code.clone(), id);
    }
    let mut unit_rows = Vec::new();
    let mut unit_index: HashMap<String, usize> = HashMap::new();
    for (_, p) in prepared {
        if let Some(u) = &p.unit
            && !unit_index.contains_key(u.room.as_str())
        {
            unit_index.insert(u.room.as_str().to_string(), unit_rows.len());
            unit_rows.push(org::UnitRow {
                building_id: building_ids[&p.building_code],
                room_no: u.room.as_str().to_string(),
                floor: u.floor,
                area_centi: u.area.as_centi(),
                status: u.status.as_str().to_string(),
            });
        }
    }
    let unit_ids = org::insert_units_batch(tx, app.store.backend(), community_id, &unit_rows, now).await?;
    let mut person_rows = Vec::new();
    let mut links = Vec::new();
    for (_, p) in prepared {
        if let (Some(u), Some(person)) = (&p.unit, &p.person) {
            person_rows.push(pst::PersonRow {
                name: person.name.as_str().to_string(),
                sealed: seal(&app.secrets, person),
                note: String::new(),
            });
            links.push((unit_ids[unit_index[u.room.as_str()]], p.relation.as_str()));
        }
    }
    let person_ids = pst::insert_persons_batch(tx, app.store.backend(), community_id, &person_rows, now).await?;
    let occ: Vec<(i64, i64, &str)> =
        links.iter().zip(&person_ids).map(|((unit, rel), person)| (*unit, *person, *rel)).collect();
    pst::insert_occupancies_batch(tx, community_id, &occ, now).await?;
    Ok((unit_ids, person_ids))
}
