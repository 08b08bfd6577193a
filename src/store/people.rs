//! Owners, residents and their relation to units. Personal data arrives here already
//! encrypted, masked and hashed by the use-case; this module never sees a plain ID number.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow};

/// A person as everyone sees them: personal data masked (R-ARC-1).
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: i64,
    pub community_id: i64,
    pub name: String,
    pub phone_masked: String,
    pub id_kind: Option<String>,
    pub id_masked: String,
    pub employer_masked: String,
    pub address_masked: String,
    pub note: String,
    pub active: i64,
    pub version: i64,
}

const PERSON_COLS: &str = "id, community_id, name, phone_masked, id_kind, id_masked, employer_masked, \
                           address_masked, note, active, version";

/// Personal data as stored: encrypted, masked and hashed values.
#[derive(Debug, Clone, Default)]
pub struct SealedPersonal {
    pub phone_enc: Option<String>,
    pub phone_hash: Option<String>,
    pub phone_last4: Option<String>,
    pub phone_masked: String,
    pub id_kind: Option<String>,
    pub id_enc: Option<String>,
    pub id_hash: Option<String>,
    pub id_masked: String,
    pub employer_enc: Option<String>,
    pub employer_masked: String,
    pub address_enc: Option<String>,
    pub address_masked: String,
}

impl SealedPersonal {
    /// `q` with the sealed values bound next, in the order the statements of persons
    /// list their columns: phone, identity document, employer, address.
    fn bind_to<'q>(&'q self, q: super::AnyQuery<'q>) -> super::AnyQuery<'q> {
        q.bind(&self.phone_enc)
            .bind(&self.phone_hash)
            .bind(&self.phone_last4)
            .bind(&self.phone_masked)
            .bind(&self.id_kind)
            .bind(&self.id_enc)
            .bind(&self.id_hash)
            .bind(&self.id_masked)
            .bind(&self.employer_enc)
            .bind(&self.employer_masked)
            .bind(&self.address_enc)
            .bind(&self.address_masked)
    }
}

pub async fn insert_person(
    tx: &mut AnyConnection,
    community_id: i64,
    name: &str,
    p: &SealedPersonal,
    note: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    use sqlx::Row;
    let q = sqlx::query(
        "INSERT INTO persons (community_id, name, phone_enc, phone_hash, phone_last4, phone_masked, \
         id_kind, id_enc, id_hash, id_masked, employer_enc, employer_masked, address_enc, address_masked, \
         note, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id",
    )
    .bind(community_id)
    .bind(name);
    p.bind_to(q).bind(note).bind(now).fetch_one(tx).await?.try_get(0)
}

#[allow(clippy::too_many_arguments)]
pub async fn update_person(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    p: &SealedPersonal,
    note: &str,
    active: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE persons SET name = $1, phone_enc = $2, phone_hash = $3, phone_last4 = $4, phone_masked = $5, \
         id_kind = $6, id_enc = $7, id_hash = $8, id_masked = $9, employer_enc = $10, employer_masked = $11, \
         address_enc = $12, address_masked = $13, note = $14, active = $15, updated_at = $16, \
         version = version + 1 WHERE id = $17 AND version = $18",
    )
    .bind(name);
    let q = p.bind_to(q).bind(note).bind(super::flag(active)).bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn person(pool: &AnyPool, id: i64) -> Result<Option<Person>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PERSON_COLS} FROM persons WHERE id = $1")).bind(id).fetch_optional(pool).await
}

/// The stored (sealed) personal data of a person, for an edit that keeps unchanged fields.
pub async fn sealed(conn: &mut AnyConnection, id: i64) -> Result<Option<SealedPersonal>, sqlx::Error> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT phone_enc, phone_hash, phone_last4, phone_masked, id_kind, id_enc, id_hash, id_masked, \
         employer_enc, employer_masked, address_enc, address_masked FROM persons WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| SealedPersonal {
        phone_enc: r.get(0),
        phone_hash: r.get(1),
        phone_last4: r.get(2),
        phone_masked: r.get(3),
        id_kind: r.get(4),
        id_enc: r.get(5),
        id_hash: r.get(6),
        id_masked: r.get(7),
        employer_enc: r.get(8),
        employer_masked: r.get(9),
        address_enc: r.get(10),
        address_masked: r.get(11),
    }))
}

/// How to find a person in a community.
#[derive(Debug, Clone)]
pub enum PersonQuery {
    /// Exact phone number, by its keyed hash.
    PhoneHash(String),
    /// Exact ID number, by its keyed hash.
    IdHash(String),
    /// The last four digits of a phone number (the desk's quickest question).
    PhoneLast4(String),
    /// Name prefix.
    Name(String),
    All,
}

pub async fn find_persons(
    pool: &AnyPool,
    community_id: i64,
    q: &PersonQuery,
    limit: i64,
    offset: i64,
) -> Result<Vec<Person>, sqlx::Error> {
    let (cond, arg): (&str, Option<String>) = match q {
        PersonQuery::PhoneHash(h) => ("phone_hash = $2", Some(h.clone())),
        PersonQuery::IdHash(h) => ("id_hash = $2", Some(h.clone())),
        PersonQuery::PhoneLast4(d) => ("phone_last4 = $2", Some(d.clone())),
        PersonQuery::Name(n) => ("name LIKE $2", Some(format!("{}%", super::escape_like(n)))),
        PersonQuery::All => ("1 = 1", None),
    };
    let n = if arg.is_some() { 3 } else { 2 };
    let sql = format!(
        "SELECT {PERSON_COLS} FROM persons WHERE community_id = $1 AND {cond} ORDER BY id LIMIT ${n} OFFSET ${}",
        n + 1
    );
    let mut qq = sqlx::query_as(&sql).bind(community_id);
    if let Some(a) = arg {
        qq = qq.bind(a);
    }
    qq.bind(limit).bind(offset).fetch_all(pool).await
}

/// A person's link to a unit, with the names needed to show it.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Occupancy {
    pub id: i64,
    pub community_id: i64,
    pub unit_id: i64,
    pub room_no: String,
    pub person_id: i64,
    pub person_name: String,
    pub phone_masked: String,
    pub relation: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub active: i64,
    pub version: i64,
}

const OCC_SELECT: &str = "SELECT o.id, o.community_id, o.unit_id, u.room_no, o.person_id, p.name AS person_name, \
     p.phone_masked, o.relation, o.since, o.until, o.active, o.version \
     FROM occupancies o JOIN units u ON u.id = o.unit_id JOIN persons p ON p.id = o.person_id";

pub async fn insert_occupancy(
    tx: &mut AnyConnection,
    community_id: i64,
    unit_id: i64,
    person_id: i64,
    relation: &str,
    since: Option<&str>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO occupancies (community_id, unit_id, person_id, relation, since, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(community_id)
    .bind(unit_id)
    .bind(person_id)
    .bind(relation)
    .bind(since)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// End an occupancy (moved out, sold): kept for history, never deleted.
pub async fn end_occupancy(
    tx: &mut AnyConnection,
    id: i64,
    version: i64,
    until: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query(
        "UPDATE occupancies SET active = 0, until = $1, updated_at = $2, version = version + 1 \
         WHERE id = $3 AND version = $4 AND active = 1",
    )
    .bind(until)
    .bind(now);
    super::update_at_version(tx, q, id, version).await
}

pub async fn occupancy(pool: &AnyPool, id: i64) -> Result<Option<Occupancy>, sqlx::Error> {
    sqlx::query_as(&format!("{OCC_SELECT} WHERE o.id = $1")).bind(id).fetch_optional(pool).await
}

pub async fn occupancies_of_unit(pool: &AnyPool, unit_id: i64) -> Result<Vec<Occupancy>, sqlx::Error> {
    sqlx::query_as(&format!("{OCC_SELECT} WHERE o.unit_id = $1 ORDER BY o.active DESC, o.relation, o.id"))
        .bind(unit_id)
        .fetch_all(pool)
        .await
}

pub async fn occupancies_of_person(pool: &AnyPool, person_id: i64) -> Result<Vec<Occupancy>, sqlx::Error> {
    sqlx::query_as(&format!("{OCC_SELECT} WHERE o.person_id = $1 ORDER BY o.active DESC, u.room_no"))
        .bind(person_id)
        .fetch_all(pool)
        .await
}

pub async fn count_persons(pool: &AnyPool, community_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM persons WHERE community_id = $1").bind(community_id).fetch_one(pool).await
}

/// A person to insert in bulk.
pub struct PersonRow {
    pub name: String,
    pub sealed: SealedPersonal,
    pub note: String,
}

/// Insert people in batches; returns their ids in the order given.
pub async fn insert_persons_batch(
    tx: &mut AnyConnection,
    backend: super::Backend,
    community_id: i64,
    rows: &[PersonRow],
    now: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let ids = super::allocate_ids(tx, backend, "persons", rows.len()).await?;
    for (chunk, idc) in rows.chunks(super::BATCH_ROWS).zip(ids.chunks(super::BATCH_ROWS)) {
        let sql = format!(
            "INSERT INTO persons (id, community_id, name, phone_enc, phone_hash, phone_last4, phone_masked, \
             id_kind, id_enc, id_hash, id_masked, employer_enc, employer_masked, address_enc, address_masked, \
             note, created_at, updated_at) VALUES {}",
            super::values_placeholders(backend, chunk.len(), 18)
        );
        let mut q = sqlx::query(&sql);
        for (r, id) in chunk.iter().zip(idc) {
            let p = &r.sealed;
            q = q
                .bind(*id)
                .bind(community_id)
                .bind(r.name.clone())
                .bind(p.phone_enc.clone())
                .bind(p.phone_hash.clone())
                .bind(p.phone_last4.clone())
                .bind(p.phone_masked.clone())
                .bind(p.id_kind.clone())
                .bind(p.id_enc.clone())
                .bind(p.id_hash.clone())
                .bind(p.id_masked.clone())
                .bind(p.employer_enc.clone())
                .bind(p.employer_masked.clone())
                .bind(p.address_enc.clone())
                .bind(p.address_masked.clone())
                .bind(r.note.clone())
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    // Each ID number is claimed for its person in the company (one statement for the batch).
    if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
        sqlx::query(
            "INSERT INTO person_id_numbers (company_id, id_hash, person_id) \
             SELECT c.company_id, p.id_hash, p.id FROM persons p JOIN communities c ON c.id = p.community_id \
             WHERE p.community_id = $1 AND p.id BETWEEN $2 AND $3 AND p.id_hash IS NOT NULL",
        )
        .bind(community_id)
        .bind(*first)
        .bind(*last)
        .execute(&mut *tx)
        .await?;
    }
    Ok(ids)
}

/// The person already holding an ID number in the company, as the refusal names them
/// (masked): id, name, community, masked number.
#[derive(Debug, Clone, FromRow)]
pub struct IdOwner {
    pub person_id: i64,
    pub name: String,
    pub community_name: String,
    pub id_masked: String,
}

pub async fn id_owner(
    conn: &mut AnyConnection,
    company_id: i64,
    id_hash: &str,
) -> Result<Option<IdOwner>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.id AS person_id, p.name, c.name AS community_name, p.id_masked FROM person_id_numbers n \
         JOIN persons p ON p.id = n.person_id JOIN communities c ON c.id = p.community_id \
         WHERE n.company_id = $1 AND n.id_hash = $2",
    )
    .bind(company_id)
    .bind(id_hash)
    .fetch_optional(conn)
    .await
}

/// The owners of any of these ID numbers in the company (for an import's check).
pub async fn id_owners(
    conn: &mut AnyConnection,
    company_id: i64,
    hashes: &[String],
) -> Result<Vec<(String, IdOwner)>, sqlx::Error> {
    let mut out = vec![];
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "SELECT n.id_hash, p.id AS person_id, p.name, c.name AS community_name, p.id_masked FROM person_id_numbers n \
             JOIN persons p ON p.id = n.person_id JOIN communities c ON c.id = p.community_id \
             WHERE n.company_id = $1 AND n.id_hash IN ({})",
            super::sheet::params(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(company_id);
        for h in chunk {
            q = q.bind(h.clone());
        }
        for r in q.fetch_all(&mut *conn).await? {
            use sqlx::Row;
            out.push((
                r.get::<String, _>(0),
                IdOwner { person_id: r.get(1), name: r.get(2), community_name: r.get(3), id_masked: r.get(4) },
            ));
        }
    }
    Ok(out)
}

/// Claim an ID number for a person in the company, releasing the number they held
/// before. A unique violation means someone else holds it.
pub async fn claim_id(
    tx: &mut AnyConnection,
    company_id: i64,
    id_hash: &str,
    person_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM person_id_numbers WHERE person_id = $1").bind(person_id).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO person_id_numbers (company_id, id_hash, person_id) VALUES ($1, $2, $3)")
        .bind(company_id)
        .bind(id_hash)
        .bind(person_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Link people to units in bulk: `(unit_id, person_id, relation)`.
pub async fn insert_occupancies_batch(
    tx: &mut AnyConnection,
    community_id: i64,
    rows: &[(i64, i64, &str)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let backend = super::Backend::of(tx);
    for chunk in rows.chunks(super::BATCH_ROWS) {
        let sql = format!(
            "INSERT INTO occupancies (community_id, unit_id, person_id, relation, created_at, updated_at) VALUES {}",
            super::values_placeholders(backend, chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (unit, person, rel) in chunk {
            q = q.bind(community_id).bind(*unit).bind(*person).bind(rel.to_string()).bind(now).bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}
