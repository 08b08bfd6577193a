//! Companies, communities, buildings, units and departments.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow};

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Company {
    pub id: i64,
    pub name: String,
    pub version: i64,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Community {
    pub id: i64,
    pub company_id: i64,
    /// Short code used in sheet numbers.
    pub code: String,
    pub name: String,
    /// IANA time zone; dates are shown and days counted in it.
    pub timezone: String,
    pub address: String,
    pub phone: String,
    pub active: i64,
    pub version: i64,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Building {
    pub id: i64,
    pub community_id: i64,
    pub code: String,
    pub name: String,
    pub floors: i64,
    pub active: i64,
    pub version: i64,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Unit {
    pub id: i64,
    pub community_id: i64,
    pub building_id: i64,
    pub room_no: String,
    pub floor: i64,
    /// Floor area in hundredths of a square metre.
    pub area_centi: i64,
    pub status: String,
    pub active: i64,
    pub version: i64,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Department {
    pub id: i64,
    pub community_id: i64,
    pub kind: String,
    pub name: String,
    pub active: i64,
    pub version: i64,
}

const COMMUNITY_COLS: &str = "id, company_id, code, name, timezone, address, phone, active, version";
const BUILDING_COLS: &str = "id, community_id, code, name, floors, active, version";
const UNIT_COLS: &str = "id, community_id, building_id, room_no, floor, area_centi, status, active, version";
const DEPT_COLS: &str = "id, community_id, kind, name, active, version";

pub async fn insert_company(tx: &mut AnyConnection, name: &str, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO companies (name, created_at, updated_at) VALUES ($1, $2, $2) RETURNING id")
        .bind(name)
        .bind(now)
        .fetch_one(tx)
        .await
}

/// The name of the company a community belongs to.
pub async fn company_name_of(pool: &AnyPool, community_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT c.name FROM companies c JOIN communities m ON m.company_id = c.id WHERE m.id = $1")
        .bind(community_id)
        .fetch_optional(pool)
        .await
}

pub async fn companies(pool: &AnyPool) -> Result<Vec<Company>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, version FROM companies ORDER BY id").fetch_all(pool).await
}

pub struct NewCommunity<'a> {
    pub company_id: i64,
    pub code: &'a str,
    pub name: &'a str,
    pub timezone: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
}

pub async fn insert_community(tx: &mut AnyConnection, c: &NewCommunity<'_>, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO communities (company_id, code, name, timezone, address, phone, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(c.company_id)
    .bind(c.code)
    .bind(c.name)
    .bind(c.timezone)
    .bind(c.address)
    .bind(c.phone)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Update a community if nobody changed it since `version` was read.
/// Returns false when the version is stale (or the row is gone).
pub async fn update_community(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    c: &NewCommunity<'_>,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE communities SET name = $1, timezone = $2, address = $3, phone = $4, active = $5, \
         updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8",
    )
    .bind(c.name)
    .bind(c.timezone)
    .bind(c.address)
    .bind(c.phone)
    .bind(super::flag(active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn community(pool: &AnyPool, id: i64) -> Result<Option<Community>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COMMUNITY_COLS} FROM communities WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Communities, restricted to `ids` unless `None` (company-wide viewers).
pub async fn communities(pool: &AnyPool, ids: Option<&[i64]>) -> Result<Vec<Community>, sqlx::Error> {
    super::select_in(pool, &format!("SELECT {COMMUNITY_COLS} FROM communities"), "id IN ({ids})", ids).await
}

pub async fn insert_building(
    tx: &mut AnyConnection,
    community_id: i64,
    code: &str,
    name: &str,
    floors: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO buildings (community_id, code, name, floors, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(community_id)
    .bind(code)
    .bind(name)
    .bind(floors)
    .bind(now)
    .fetch_one(tx)
    .await
}

pub async fn update_building(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    floors: i64,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE buildings SET name = $1, floors = $2, active = $3, updated_at = $4, version = version + 1 \
         WHERE id = $5 AND version = $6",
    )
    .bind(name)
    .bind(floors)
    .bind(super::flag(active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn building(pool: &AnyPool, id: i64) -> Result<Option<Building>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {BUILDING_COLS} FROM buildings WHERE id = $1")).bind(id).fetch_optional(pool).await
}

pub async fn building_by_code(
    conn: &mut AnyConnection,
    community_id: i64,
    code: &str,
) -> Result<Option<Building>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {BUILDING_COLS} FROM buildings WHERE community_id = $1 AND code = $2"))
        .bind(community_id)
        .bind(code)
        .fetch_optional(conn)
        .await
}

pub async fn buildings(pool: &AnyPool, community_id: i64) -> Result<Vec<Building>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BUILDING_COLS} FROM buildings WHERE community_id = $1 ORDER BY LENGTH(code), code"
    ))
    .bind(community_id)
    .fetch_all(pool)
    .await
}

pub struct NewUnit<'a> {
    pub community_id: i64,
    pub building_id: i64,
    pub room_no: &'a str,
    pub floor: i64,
    pub area_centi: i64,
    pub status: &'a str,
}

pub async fn insert_unit(tx: &mut AnyConnection, u: &NewUnit<'_>, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO units (community_id, building_id, room_no, floor, area_centi, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(u.community_id)
    .bind(u.building_id)
    .bind(u.room_no)
    .bind(u.floor)
    .bind(u.area_centi)
    .bind(u.status)
    .bind(now)
    .fetch_one(tx)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn update_unit(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    floor: i64,
    area_centi: i64,
    status: &str,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE units SET floor = $1, area_centi = $2, status = $3, active = $4, updated_at = $5, \
         version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(floor)
    .bind(area_centi)
    .bind(status)
    .bind(super::flag(active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn unit(pool: &AnyPool, id: i64) -> Result<Option<Unit>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {UNIT_COLS} FROM units WHERE id = $1")).bind(id).fetch_optional(pool).await
}

pub async fn unit_by_room(
    conn: &mut AnyConnection,
    community_id: i64,
    room_no: &str,
) -> Result<Option<Unit>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {UNIT_COLS} FROM units WHERE community_id = $1 AND room_no = $2"))
        .bind(community_id)
        .bind(room_no)
        .fetch_optional(conn)
        .await
}

/// Units of a community, optionally of one building and/or starting with a room-number
/// prefix (`3-2-15` finds every unit on the 15th floor of entrance 2 of building 3).
pub async fn units(
    pool: &AnyPool,
    community_id: i64,
    building_id: Option<i64>,
    room_prefix: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Unit>, sqlx::Error> {
    let mut sql = format!("SELECT {UNIT_COLS} FROM units WHERE community_id = $1");
    let mut n = 1;
    if building_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND building_id = ${n}"));
    }
    if room_prefix.is_some() {
        n += 1;
        sql.push_str(&format!(" AND room_no LIKE ${n}"));
    }
    sql.push_str(&format!(" ORDER BY room_no LIMIT ${} OFFSET ${}", n + 1, n + 2));
    let mut q = sqlx::query_as(&sql).bind(community_id);
    if let Some(b) = building_id {
        q = q.bind(b);
    }
    if let Some(p) = room_prefix {
        q = q.bind(format!("{}%", super::escape_like(p)));
    }
    q.bind(limit).bind(offset).fetch_all(pool).await
}

pub async fn count_units(pool: &AnyPool, community_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM units WHERE community_id = $1").bind(community_id).fetch_one(pool).await
}

pub async fn insert_department(
    tx: &mut AnyConnection,
    community_id: i64,
    kind: &str,
    name: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO departments (community_id, kind, name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(community_id)
    .bind(kind)
    .bind(name)
    .bind(now)
    .fetch_one(tx)
    .await
}

pub async fn update_department(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE departments SET name = $1, active = $2, updated_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(name)
    .bind(super::flag(active))
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn department(pool: &AnyPool, id: i64) -> Result<Option<Department>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DEPT_COLS} FROM departments WHERE id = $1")).bind(id).fetch_optional(pool).await
}

pub async fn departments(pool: &AnyPool, community_id: i64) -> Result<Vec<Department>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DEPT_COLS} FROM departments WHERE community_id = $1 ORDER BY id"))
        .bind(community_id)
        .fetch_all(pool)
        .await
}

/// Every room number of a community (for checking an import against what exists).
pub async fn room_numbers(pool: &AnyPool, community_id: i64) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let v: Vec<String> = sqlx::query_scalar("SELECT room_no FROM units WHERE community_id = $1")
        .bind(community_id)
        .fetch_all(pool)
        .await?;
    Ok(v.into_iter().collect())
}

/// A unit to insert in bulk.
pub struct UnitRow {
    pub building_id: i64,
    pub room_no: String,
    pub floor: i64,
    pub area_centi: i64,
    pub status: String,
}

/// Insert units in batches; returns their ids in the order given.
pub async fn insert_units_batch(
    tx: &mut AnyConnection,
    backend: super::Backend,
    community_id: i64,
    rows: &[UnitRow],
    now: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let ids = super::allocate_ids(tx, backend, "units", rows.len()).await?;
    for (chunk, idc) in rows.chunks(super::BATCH_ROWS).zip(ids.chunks(super::BATCH_ROWS)) {
        let sql = format!(
            "INSERT INTO units (id, community_id, building_id, room_no, floor, area_centi, status, created_at, updated_at) VALUES {}",
            super::values_placeholders(backend, chunk.len(), 9)
        );
        let mut q = sqlx::query(&sql);
        for (r, id) in chunk.iter().zip(idc) {
            q = q
                .bind(*id)
                .bind(community_id)
                .bind(r.building_id)
                .bind(r.room_no.clone())
                .bind(r.floor)
                .bind(r.area_centi)
                .bind(r.status.clone())
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(ids)
}
