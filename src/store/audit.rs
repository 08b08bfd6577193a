//! The audit trail: append-only (triggers refuse UPDATE and DELETE on both backends) and
//! chained under a key that is not in the database (HMAC-SHA-256, see ADR 2), so that
//! `huiqian audit verify` finds any altered, inserted or removed entry; each entry also
//! carries the digests of the sheet events written with it.

use crate::crypto::AuditKey;
use hmac::Mac;
use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};

/// What an audited write records.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor_name: &'a str,
    pub actor_role: &'a str,
    pub community_id: Option<i64>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: String,
    /// JSON of what changed, personal data already masked.
    pub changes: String,
    /// On whose authority: the role that allowed it, or an approval reference.
    pub authority: &'a str,
    pub request_id: &'a str,
    /// The sheet events written in the same transaction (see [`Covers`]); empty for none.
    pub covers: String,
}

#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub seq: i64,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor_name: String,
    pub actor_role: String,
    pub community_id: Option<i64>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub changes: String,
    pub authority: String,
    pub request_id: String,
    #[serde(skip)]
    pub prev_hash: String,
    #[serde(skip)]
    pub hash: String,
    /// The key the entry was sealed with ('' before the chain was keyed).
    #[serde(skip)]
    pub key_id: String,
    #[serde(skip)]
    pub covers: String,
    /// The chain the entry is in: its community's, or 0 for entries of no community (and
    /// for every entry written before the trail was chained per community).
    #[serde(skip)]
    pub chain: i64,
    /// Its place in that chain; empty for the entries written before, whose place in
    /// chain 0 is their `seq`.
    #[serde(skip)]
    pub chain_seq: Option<i64>,
}

/// An entry's columns, named: a statement that lists them keeps its shape when a migration
/// changes the table (`SELECT *` prepared before the change would read a row of another
/// width on a connection that cached it).
const ENTRY_COLS: &str = "seq, at, actor_user_id, actor_name, actor_role, community_id, action, entity_type, \
     entity_id, changes, authority, request_id, prev_hash, hash, key_id, covers, chain, chain_seq";

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry written before the chain was keyed: SHA-256 over the previous
/// hash and every recorded field, each length-prefixed so that no two different entries
/// serialise alike. Kept to verify those entries; a keyed entry after them vouches for
/// them, since its seal covers their last hash.
pub fn chain_hash(prev: &str, seq: i64, e: &EntryFields<'_>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    put_fields(&mut |b: &[u8]| h.update(b), prev, seq, e);
    hex::encode(h.finalize())
}

/// The seal of an entry: HMAC-SHA-256 under the audit key over the previous hash, every
/// recorded field, the key's id and the sheet events the entry covers.
pub fn keyed_hash(key: &AuditKey, prev: &str, seq: i64, e: &EntryFields<'_>) -> String {
    let mut m = key.mac();
    put_fields(&mut |b: &[u8]| m.update(b), prev, seq, e);
    for s in [key.id(), e.covers] {
        m.update(&(s.len() as u64).to_be_bytes());
        m.update(s.as_bytes());
    }
    hex::encode(m.finalize().into_bytes())
}

fn put_fields(out: &mut dyn FnMut(&[u8]), prev: &str, seq: i64, e: &EntryFields<'_>) {
    let mut put = |s: &str| {
        out(&(s.len() as u64).to_be_bytes());
        out(s.as_bytes());
    };
    put(prev);
    put(&seq.to_string());
    put(&e.at.to_string());
    put(&e.actor_user_id.map(|v| v.to_string()).unwrap_or_default());
    put(e.actor_name);
    put(e.actor_role);
    put(&e.community_id.map(|v| v.to_string()).unwrap_or_default());
    put(e.action);
    put(e.entity_type);
    put(e.entity_id);
    put(e.changes);
    put(e.authority);
    put(e.request_id);
}

/// The hashed fields of an entry, borrowed from either a new or a stored entry.
pub struct EntryFields<'a> {
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor_name: &'a str,
    pub actor_role: &'a str,
    pub community_id: Option<i64>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub changes: &'a str,
    pub authority: &'a str,
    pub request_id: &'a str,
    pub covers: &'a str,
}

impl Entry {
    /// The entry's place in its chain (what its seal covers).
    pub fn place(&self) -> i64 {
        self.chain_seq.unwrap_or(self.seq)
    }

    pub fn fields(&self) -> EntryFields<'_> {
        EntryFields {
            at: self.at,
            actor_user_id: self.actor_user_id,
            actor_name: &self.actor_name,
            actor_role: &self.actor_role,
            community_id: self.community_id,
            action: &self.action,
            entity_type: &self.entity_type,
            entity_id: &self.entity_id,
            changes: &self.changes,
            authority: &self.authority,
            request_id: &self.request_id,
            covers: &self.covers,
        }
    }
}

/// The digest of a stored sheet event, as an audit entry vouches for it.
pub fn event_digest(
    sheet_id: i64,
    seq: i64,
    at: i64,
    by_user_id: i64,
    by_role: &str,
    name: &str,
    data: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for s in [&sheet_id.to_string(), &seq.to_string(), &at.to_string(), &by_user_id.to_string(), by_role, name, data] {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }
    hex::encode(h.finalize())
}

/// What an entry vouches for beyond itself: the sheet events written in its transaction
/// (sheet, place in the sheet's history, digest), or a seal over the events written
/// without an entry of their own (before the chain covered events, or loaded in bulk).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Covers {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sheet_events: Vec<(i64, i64, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_events: Option<Seal>,
}

/// The events with ids in `(after_id, through_id]` that no entry covers one by one:
/// how many, and the SHA-256 over their ids and digests in id order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seal {
    pub after_id: i64,
    pub through_id: i64,
    pub count: i64,
    pub digest: String,
}

impl Covers {
    pub fn event(&mut self, sheet_id: i64, seq: i64, digest: String) {
        self.sheet_events.push((sheet_id, seq, digest));
    }

    pub fn is_empty(&self) -> bool {
        self.sheet_events.is_empty() && self.sealed_events.is_none()
    }

    /// As stored: '' for nothing.
    pub fn to_text(&self) -> String {
        if self.is_empty() { String::new() } else { serde_json::to_string(self).expect("covers serialise") }
    }

    pub fn parse(text: &str) -> Option<Covers> {
        if text.is_empty() { Some(Covers::default()) } else { serde_json::from_str(text).ok() }
    }
}

/// A stored sheet event with its digest, in id order (verification and sealing).
#[derive(Debug, Clone)]
pub struct EventDigest {
    pub id: i64,
    pub sheet_id: i64,
    pub seq: i64,
    pub digest: String,
}

/// A page of sheet events after `after_id`, with their digests.
pub async fn event_digests(pool: &AnyPool, after_id: i64, limit: i64) -> Result<Vec<EventDigest>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, sheet_id, seq, at, by_user_id, by_role, name, data FROM sheet_events WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (sheet_id, seq): (i64, i64) = (r.get(1), r.get(2));
            let digest = event_digest(
                sheet_id,
                seq,
                r.get(3),
                r.get(4),
                &r.get::<String, _>(5),
                &r.get::<String, _>(6),
                &r.get::<String, _>(7),
            );
            EventDigest { id: r.get(0), sheet_id, seq, digest }
        })
        .collect())
}

/// The covers of every entry that has some, in chain order, a page at a time.
pub async fn covers_after(pool: &AnyPool, after_seq: i64, limit: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT seq, covers FROM audit_log WHERE seq > $1 AND covers <> '' ORDER BY seq LIMIT $2")
        .bind(after_seq)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Has any entry been sealed with a key yet?
pub async fn any_keyed(pool: &AnyPool) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM (SELECT 1 FROM audit_log WHERE key_id <> '' LIMIT 1) k")
        .fetch_one(pool)
        .await?
        > 0)
}

/// The highest sheet event id.
pub async fn last_event_id(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM sheet_events").fetch_one(pool).await?.unwrap_or(0))
}

/// The chain an entry of this community goes in.
pub fn chain_of(community_id: Option<i64>) -> i64 {
    community_id.unwrap_or(0)
}

/// Append an entry inside the caller's transaction, sealed under `key`, at the end of its
/// community's chain. Taking the chain's head row (an UPDATE) serialises the writers of
/// one community on PostgreSQL, and only those; SQLite has one writer anyway. Returns the
/// entry's number in the trail.
pub async fn append(tx: &mut AnyConnection, key: &AuditKey, e: &NewEntry<'_>) -> Result<i64, sqlx::Error> {
    const TAKE: &str = "UPDATE audit_chains SET seq = seq + 1 WHERE chain = $1 RETURNING seq, hash";
    let chain = chain_of(e.community_id);
    let row = match sqlx::query(TAKE).bind(chain).fetch_optional(&mut *tx).await? {
        Some(row) => row,
        None => {
            // The community's first entry starts its chain.
            sqlx::query(
                "INSERT INTO audit_chains (chain, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain) DO NOTHING",
            )
            .bind(chain)
            .bind(GENESIS)
            .execute(&mut *tx)
            .await?;
            sqlx::query(TAKE).bind(chain).fetch_one(&mut *tx).await?
        }
    };
    let place: i64 = row.get(0);
    let prev: String = row.get(1);
    let fields = EntryFields {
        at: e.at,
        actor_user_id: e.actor_user_id,
        actor_name: e.actor_name,
        actor_role: e.actor_role,
        community_id: e.community_id,
        action: e.action,
        entity_type: e.entity_type,
        entity_id: &e.entity_id,
        changes: &e.changes,
        authority: e.authority,
        request_id: e.request_id,
        covers: &e.covers,
    };
    let hash = keyed_hash(key, &prev, place, &fields);
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO audit_log (at, actor_user_id, actor_name, actor_role, community_id, action, \
         entity_type, entity_id, changes, authority, request_id, prev_hash, hash, key_id, covers, chain, chain_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING seq",
    )
    .bind(e.at)
    .bind(e.actor_user_id)
    .bind(e.actor_name)
    .bind(e.actor_role)
    .bind(e.community_id)
    .bind(e.action)
    .bind(e.entity_type)
    .bind(&e.entity_id)
    .bind(&e.changes)
    .bind(e.authority)
    .bind(e.request_id)
    .bind(&prev)
    .bind(&hash)
    .bind(key.id())
    .bind(&e.covers)
    .bind(chain)
    .bind(place)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_chains SET hash = $1 WHERE chain = $2").bind(&hash).bind(chain).execute(&mut *tx).await?;
    Ok(seq)
}

/// Filters for browsing the trail.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Restrict to these communities (`None`: all, for company-wide viewers).
    pub communities: Option<Vec<i64>>,
    pub community_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Entries before this sequence number (paging backwards from the newest).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

pub async fn list(pool: &AnyPool, f: &Filter) -> Result<Vec<Entry>, sqlx::Error> {
    let mut sql = format!("SELECT {ENTRY_COLS} FROM audit_log WHERE 1 = 1");
    if let Some(list) = &f.communities {
        if list.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<String> = list.iter().map(|i| i.to_string()).collect();
        sql.push_str(&format!(" AND community_id IN ({})", ids.join(",")));
    }
    /// A filter's value, bound to its own placeholder.
    enum Arg<'a> {
        Int(i64),
        Text(&'a str),
    }
    // Each condition with its value: only those set apply, numbered in this order.
    let conditions = [
        ("community_id =", f.community_id.map(Arg::Int)),
        ("actor_user_id =", f.actor_user_id.map(Arg::Int)),
        ("action =", f.action.as_deref().map(Arg::Text)),
        ("entity_type =", f.entity_type.as_deref().map(Arg::Text)),
        ("entity_id =", f.entity_id.as_deref().map(Arg::Text)),
        ("at >=", f.from_ms.map(Arg::Int)),
        ("at <", f.to_ms.map(Arg::Int)),
        ("seq <", f.before_seq.map(Arg::Int)),
    ];
    let mut args = Vec::new();
    for (condition, arg) in conditions {
        if let Some(arg) = arg {
            args.push(arg);
            sql.push_str(&format!(" AND {condition} ${}", args.len()));
        }
    }
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", args.len() + 1));
    let mut q = sqlx::query_as::<_, Entry>(&sql);
    for arg in args {
        q = match arg {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
        };
    }
    q.bind(f.limit.clamp(1, 1000)).fetch_all(pool).await
}

/// Entries in chain order, a page at a time (for verification of large trails).
pub async fn page_in_order(pool: &AnyPool, after_seq: i64, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as::<_, Entry>(&format!("SELECT {ENTRY_COLS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"))
        .bind(after_seq)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The head of a chain: how many entries it has and the last one's hash.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Head {
    pub chain: i64,
    pub seq: i64,
    pub hash: String,
}

/// Every chain's head, by chain. A database from before the trail was chained per
/// community (an old backup being inspected, not yet migrated) has its one head as chain 0.
pub async fn heads(pool: &AnyPool) -> Result<Vec<Head>, sqlx::Error> {
    match sqlx::query_as("SELECT chain, seq, hash FROM audit_chains ORDER BY chain").fetch_all(pool).await {
        Ok(heads) => Ok(heads),
        Err(_) => {
            sqlx::query_as("SELECT CAST(0 AS BIGINT) AS chain, seq, hash FROM audit_head WHERE id = 1")
                .fetch_all(pool)
                .await
        }
    }
}

/// The whole trail's length and a digest of where every chain stands: the one hash of
/// chain 0 while it is the only chain (as before the chains were split), else SHA-256
/// over each chain's `chain:seq:hash`.
pub async fn head(pool: &AnyPool) -> Result<(i64, String), sqlx::Error> {
    use sha2::{Digest, Sha256};
    let heads = heads(pool).await?;
    let entries = heads.iter().map(|h| h.seq).sum();
    if let [only] = &heads[..]
        && only.chain == 0
    {
        return Ok((entries, only.hash.clone()));
    }
    let mut d = Sha256::new();
    for h in &heads {
        d.update(format!("{}:{}:{}\n", h.chain, h.seq, h.hash).as_bytes());
    }
    Ok((entries, hex::encode(d.finalize())))
}
