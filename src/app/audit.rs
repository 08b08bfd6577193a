//! Recording and checking the audit trail (R-SHEET-12); see ADR 2.
//!
//! Every entry is sealed under the audit key (derived from the secret key, never in the
//! database) and chained to the one before it; the entries that go with sheet writes also
//! carry the digests of the sheet events written in the same transaction, so the chain
//! vouches for the sheets' histories as well. [`verify`] reports every edit, deletion,
//! insertion and truncation it can see; [`checkpoint`] gives a line to keep elsewhere,
//! against which a truncated or rewritten trail shows even to a database superuser.

use super::{Actor, App, AppError, AppResult, Authority};
use crate::store::audit::{self, Covers, Entry, Filter, GENESIS, NewEntry, Seal};
use hmac::Mac;
use huiqian_domain::auth::Permission;
use serde_json::Value;
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Record a write in the caller's transaction. `changes` must already have personal
/// data masked.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    app: &App,
    tx: &mut AnyConnection,
    actor: &Actor,
    authority: &Authority,
    action: &str,
    entity_type: &str,
    entity_id: impl ToString,
    changes: Value,
) -> AppResult<i64> {
    record_covering(app, tx, actor, authority, action, entity_type, entity_id, changes, &Covers::default()).await
}

/// Record a write that also appended sheet events, vouching for them by their digests.
#[allow(clippy::too_many_arguments)]
pub async fn record_covering(
    app: &App,
    tx: &mut AnyConnection,
    actor: &Actor,
    authority: &Authority,
    action: &str,
    entity_type: &str,
    entity_id: impl ToString,
    changes: Value,
    covers: &Covers,
) -> AppResult<i64> {
    let auth = authority.describe();
    let seq = audit::append(
        tx,
        app.secrets.audit(),
        &NewEntry {
            at: app.clock.now(),
            actor_user_id: actor.audit_user_id(),
            actor_name: actor.username(),
            actor_role: authority.role().as_str(),
            community_id: authority.community(),
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            changes: changes.to_string(),
            authority: &auth,
            request_id: actor.request_id(),
            covers: covers.to_text(),
        },
    )
    .await?;
    Ok(seq)
}

/// Record what a signed-in person did to their own account (a password, a language, a
/// token, a second factor): on their own authority, not a role's.
pub async fn record_own(
    app: &App,
    tx: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    changes: Value,
) -> AppResult<i64> {
    record_self(app, tx, Some(actor.user_id()), actor.username(), actor.request_id(), action, changes).await
}

/// Record an event that has no role behind it (sign-in, sign-out, failed sign-in).
pub async fn record_self(
    app: &App,
    tx: &mut AnyConnection,
    user_id: Option<i64>,
    username: &str,
    request_id: &str,
    action: &str,
    changes: Value,
) -> AppResult<i64> {
    let seq = audit::append(
        tx,
        app.secrets.audit(),
        &NewEntry {
            at: app.clock.now(),
            actor_user_id: user_id,
            actor_name: username,
            actor_role: "",
            community_id: None,
            action,
            entity_type: "user",
            entity_id: user_id.map(|v| v.to_string()).unwrap_or_default(),
            changes: changes.to_string(),
            authority: "self",
            request_id,
            covers: String::new(),
        },
    )
    .await?;
    Ok(seq)
}

/// What the scheduler does on its own, on the authority of the manual's rule that asks for
/// it (`R-SHEET-7`, …).
#[allow(clippy::too_many_arguments)]
pub async fn record_system(
    app: &App,
    tx: &mut AnyConnection,
    at: i64,
    community_id: Option<i64>,
    action: &str,
    entity_type: &str,
    entity_id: impl ToString,
    changes: Value,
    rule: &str,
) -> AppResult<i64> {
    let seq = audit::append(
        tx,
        app.secrets.audit(),
        &NewEntry {
            at,
            actor_user_id: None,
            actor_name: "scheduler",
            actor_role: "",
            community_id,
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            changes: changes.to_string(),
            authority: rule,
            request_id: "",
            covers: String::new(),
        },
    )
    .await?;
    Ok(seq)
}

/// Browse the trail: managers see their communities' entries (company-wide viewers see all).
pub async fn browse(app: &App, actor: &Actor, mut f: Filter) -> AppResult<Vec<Entry>> {
    let scope = actor.scope(Permission::ViewAudit);
    if let Some(c) = f.community_id {
        actor.authorize(Permission::ViewAudit, c)?;
    } else if matches!(&scope, Some(v) if v.is_empty()) {
        return Err(AppError::Forbidden);
    }
    f.communities = scope;
    Ok(audit::list(app.store.read(), &f).await?)
}

/// An entry as people read it: with the zone to show its time in (its community's, or the
/// company-wide display zone), the actor's name as colleagues know it, and for a sheet its
/// number.
pub struct Shown {
    pub entry: Entry,
    pub zone: chrono_tz::Tz,
    /// The acting person's display name; `None` for the system (scheduler, command line).
    pub actor: Option<String>,
    /// The sheet's number (KF-…), for an entry about a sheet.
    pub sheet_number: Option<String>,
}

/// [`browse`], each entry with what a reader needs to read it ([`Shown`]).
pub async fn browse_shown(app: &App, actor: &Actor, f: Filter) -> AppResult<Vec<Shown>> {
    let entries = browse(app, actor, f).await?;
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut numbers: HashMap<String, Option<String>> = HashMap::new();
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let zone = app.zone_of(entry.community_id).await?;
        let name = match entry.actor_user_id {
            Some(id) => match names.get(&id) {
                Some(n) => Some(n.clone()),
                None => {
                    let user = crate::store::auth::user(app.store.read(), id).await?;
                    let n = user.map(|u| u.display_name).unwrap_or_else(|| entry.actor_name.clone());
                    names.insert(id, n.clone());
                    Some(n)
                }
            },
            None => None,
        };
        let sheet_number = if entry.entity_type == "sheet" {
            match numbers.get(&entry.entity_id) {
                Some(n) => n.clone(),
                None => {
                    let row = match entry.entity_id.parse::<i64>() {
                        Ok(id) => crate::store::sheet::sheet(app.store.read(), id).await?,
                        Err(_) => None,
                    };
                    let n = row.map(|r| r.number);
                    numbers.insert(entry.entity_id.clone(), n.clone());
                    n
                }
            }
        } else {
            None
        };
        out.push(Shown { entry, zone, actor: name, sheet_number });
    }
    Ok(out)
}

/// The zone the audit trail's date filter counts days in: the chosen community's, or
/// the company-wide display zone when none is chosen.
pub async fn filter_zone(app: &App, actor: &Actor, community_id: Option<i64>) -> AppResult<chrono_tz::Tz> {
    if let Some(c) = community_id {
        actor.authorize(Permission::ViewAudit, c)?;
    }
    app.zone_of(community_id).await
}

// ---------------------------------------------------------------- sealing loaded events

const PAGE: i64 = 5000;

/// The sheet events (ids above `after_id`) that no entry covers one by one, with the seal
/// over them.
async fn uncovered_since(app: &App, after_id: i64) -> AppResult<Seal> {
    let pool = app.store.read();
    // Events first, then the entries: an event committed between the two reads is then
    // either not seen at all, or seen together with the entry that covers it.
    let through_id = audit::last_event_id(pool).await?;
    let mut covered = std::collections::HashSet::new();
    let mut after_seq = 0;
    loop {
        let page = audit::covers_after(pool, after_seq, PAGE).await?;
        let Some(last) = page.last() else { break };
        after_seq = last.0;
        for (_, text) in &page {
            for (sheet, seq, _) in Covers::parse(text).unwrap_or_default().sheet_events {
                covered.insert((sheet, seq));
            }
        }
    }
    let mut hasher = SealHasher::default();
    let mut cursor = after_id;
    while cursor < through_id {
        let page = audit::event_digests(pool, cursor, PAGE).await?;
        let Some(last) = page.last() else { break };
        cursor = last.id;
        for e in page.iter().filter(|e| e.id <= through_id && !covered.contains(&(e.sheet_id, e.seq))) {
            hasher.add(e.id, &e.digest);
        }
    }
    Ok(hasher.seal(after_id, through_id))
}

#[derive(Default)]
struct SealHasher {
    h: sha2::Sha256,
    count: i64,
}

impl SealHasher {
    fn add(&mut self, id: i64, digest: &str) {
        use sha2::Digest;
        self.h.update(id.to_be_bytes());
        self.h.update(digest.as_bytes());
        self.count += 1;
    }

    fn seal(self, after_id: i64, through_id: i64) -> Seal {
        use sha2::Digest;
        Seal { after_id, through_id, count: self.count, digest: hex::encode(self.h.finalize()) }
    }
}

/// Seal the sheet events written without an entry of their own (the histories of a
/// database upgraded from before the chain covered events, or a benchmark's bulk load)
/// in one entry, so that from then on an edit, removal or insertion among them shows.
/// Runs only where nothing else writes at the same time: at start-up, before serving, and
/// at the end of a bulk load. Returns how many events it sealed.
pub async fn seal_uncovered_events(app: &App, why: &str) -> AppResult<i64> {
    let after_id = last_seal(app).await?.map(|s| s.through_id).unwrap_or(0);
    let seal = uncovered_since(app, after_id).await?;
    if seal.count == 0 {
        return Ok(0);
    }
    let count = seal.count;
    let covers = Covers { sheet_events: vec![], sealed_events: Some(seal.clone()) };
    let mut tx = app.store.begin().await?;
    audit::append(
        &mut tx,
        app.secrets.audit(),
        &NewEntry {
            at: app.clock.now(),
            actor_user_id: None,
            actor_name: "huiqian",
            actor_role: "",
            community_id: None,
            action: "audit.events_sealed",
            entity_type: "sheet_events",
            entity_id: format!("{}..{}", seal.after_id + 1, seal.through_id),
            changes: serde_json::json!({"count": count, "reason": why}).to_string(),
            authority: "R-SHEET-12",
            request_id: "",
            covers: covers.to_text(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(count, why, "sheet events sealed in the audit trail");
    Ok(count)
}

async fn last_seal(app: &App) -> AppResult<Option<Seal>> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT covers FROM audit_log WHERE action = 'audit.events_sealed' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(app.store.read())
    .await?;
    Ok(text.and_then(|t| Covers::parse(&t)).and_then(|c| c.sealed_events))
}

/// At start-up: a database from before the chain was keyed gets its sheet histories
/// sealed by the first keyed entry.
pub async fn seal_on_upgrade(app: &App) -> AppResult<()> {
    if !audit::any_keyed(app.store.read()).await? && audit::last_event_id(app.store.read()).await? > 0 {
        seal_uncovered_events(app, "upgrade").await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- checkpoints

/// A line that vouches for a chain up to an entry: `chain seq hash key_id mac`, the MAC
/// under the audit key. Kept outside the database (printed, mailed, on another machine),
/// it shows a later truncation or rewrite of that chain up to that entry. Lines from
/// before the chains were split (`seq hash key_id mac`) vouch for chain 0.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checkpoint {
    pub chain: i64,
    /// The entry's place in its chain.
    pub seq: i64,
    pub hash: String,
}

impl Checkpoint {
    fn mac(app: &App, chain: Option<i64>, seq: i64, hash: &str) -> String {
        let mut m = app.secrets.audit().mac();
        m.update(b"huiqian audit checkpoint\0");
        if let Some(chain) = chain {
            m.update(b"chain ");
            m.update(chain.to_string().as_bytes());
            m.update(b"\0");
        }
        m.update(seq.to_string().as_bytes());
        m.update(b"\0");
        m.update(hash.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    pub fn line(&self, app: &App) -> String {
        let mac = Self::mac(app, Some(self.chain), self.seq, &self.hash);
        format!("{} {} {} {} {mac}", self.chain, self.seq, self.hash, app.secrets.audit().id())
    }

    /// The chain and place a line speaks of, without checking it (to sort lines).
    pub fn place_of(line: &str) -> Option<(i64, i64)> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts[..] {
            [seq, _, _, _] => Some((0, seq.parse().ok()?)),
            [chain, seq, _, _, _] => Some((chain.parse().ok()?, seq.parse().ok()?)),
            _ => None,
        }
    }

    /// Read a line; `Err` says why it is not a genuine checkpoint of this key.
    pub fn parse(app: &App, line: &str) -> Result<Checkpoint, String> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let not = || "not a checkpoint line".to_string();
        let (chain, seq, hash, key_id, mac) = match parts[..] {
            [seq, hash, key_id, mac] => (None, seq, hash, key_id, mac),
            [chain, seq, hash, key_id, mac] => (Some(chain.parse::<i64>().map_err(|_| not())?), seq, hash, key_id, mac),
            _ => return Err(not()),
        };
        let seq: i64 = seq.parse().map_err(|_| not())?;
        if key_id != app.secrets.audit().id() {
            return Err(format!("made with another key ({key_id})"));
        }
        let expected = Self::mac(app, chain, seq, hash);
        if !crate::crypto::constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            return Err("its seal does not match: the line was altered or forged".into());
        }
        Ok(Checkpoint { chain: chain.unwrap_or(0), seq, hash: hash.to_string() })
    }
}

/// Every chain's head as a checkpoint (chains with entries only).
pub async fn checkpoints(app: &App) -> AppResult<Vec<Checkpoint>> {
    let heads = audit::heads(app.store.read()).await?;
    Ok(heads
        .into_iter()
        .filter(|h| h.seq > 0)
        .map(|h| Checkpoint { chain: h.chain, seq: h.seq, hash: h.hash })
        .collect())
}

/// The data folder's checkpoint file (backed up and restored with the database).
pub const CHECKPOINTS_FILE: &str = "audit-checkpoints";

/// Where the server keeps its own checkpoints: beside the data, outside the database.
pub fn checkpoint_file(app: &App) -> PathBuf {
    app.config.data.join(CHECKPOINTS_FILE)
}

/// Append to the data folder's checkpoint file the head of every chain that has moved on
/// since its last line there (the scheduler does this every hour). Returns those written.
pub async fn keep_checkpoint(app: &App) -> AppResult<Vec<Checkpoint>> {
    use std::io::Write;
    let path = checkpoint_file(app);
    let mut kept: HashMap<i64, i64> = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        for c in text.lines().filter_map(|l| Checkpoint::parse(app, l).ok()) {
            kept.insert(c.chain, c.seq);
        }
    }
    let new: Vec<Checkpoint> =
        checkpoints(app).await?.into_iter().filter(|c| kept.get(&c.chain) != Some(&c.seq)).collect();
    if new.is_empty() {
        return Ok(new);
    }
    let io = |e: std::io::Error| AppError::Internal(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
    let lines: String = new.iter().map(|c| format!("{}\n", c.line(app))).collect();
    f.write_all(lines.as_bytes()).and_then(|_| f.sync_all()).map_err(io)?;
    Ok(new)
}

// ---------------------------------------------------------------- verification

/// What kind of damage a problem shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// An entry or a sheet event no longer says what it said.
    Edit,
    /// Entries or sheet events are gone.
    Deletion,
    /// Something was added that the chain does not vouch for.
    Insertion,
    /// The end of the trail is gone.
    Truncation,
    /// Something cannot be checked (another key, an unreadable checkpoint).
    Unverifiable,
}

impl Damage {
    pub fn label(self) -> &'static str {
        match self {
            Damage::Edit => "edited",
            Damage::Deletion => "deleted",
            Damage::Insertion => "inserted",
            Damage::Truncation => "truncated",
            Damage::Unverifiable => "unverifiable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub damage: Damage,
    pub text: String,
}

/// What `huiqian audit verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Entries read.
    pub checked: i64,
    /// Of which sealed under the audit key (the rest predate keying).
    pub keyed: i64,
    /// Sheet events checked against the entries that vouch for them.
    pub events: i64,
    /// Checkpoints compared.
    pub checkpoints: i64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn found(&mut self, damage: Damage, text: String) {
        // A thousand lines say enough; the count goes on.
        if self.problems.len() < 1000 {
            self.problems.push(Problem { damage, text });
        }
    }

    pub fn count(&self, damage: Damage) -> usize {
        self.problems.iter().filter(|p| p.damage == damage).count()
    }
}

/// Where the walk stands in one chain: the next place expected and the last hash.
struct ChainWalk {
    next: i64,
    prev_hash: String,
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk { next: 1, prev_hash: GENESIS.to_string() }
    }
}

/// How an entry is named in a report: its number in the trail, and (said after) its chain
/// when that is a community's.
fn entry_name(e: &Entry) -> (String, String) {
    let whose = if e.chain == 0 { String::new() } else { format!(" (in community {}'s chain)", e.chain) };
    (format!("entry {}", e.seq), whose)
}

fn chain_name(chain: i64) -> String {
    if chain == 0 { "the trail's chain 0".to_string() } else { format!("community {chain}'s chain") }
}

/// Walk the trail from the first entry, recomputing every seal and following each
/// community's chain; then compare every sheet event with the entry that vouches for it,
/// and each chain with the checkpoints in the data folder and in `extra` files.
pub async fn verify(app: &App, extra: &[PathBuf]) -> AppResult<VerifyReport> {
    let pool = app.store.read();
    let key = app.secrets.audit();
    let mut report = VerifyReport::default();
    let mut chains: HashMap<i64, ChainWalk> = HashMap::new();
    let mut last_seq = 0i64;
    let mut keyed_seen = false;
    // The hash at each place a checkpoint vouches for, by (chain, place).
    let mut hashes: HashMap<(i64, i64), String> = HashMap::new();
    let mut covered: HashMap<(i64, i64), (String, i64)> = HashMap::new();
    let mut seals: Vec<Seal> = Vec::new();
    let checkpoints = read_checkpoints(app, extra, &mut report);
    loop {
        let page = audit::page_in_order(pool, last_seq, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            let (name, whose) = entry_name(e);
            let place = e.place();
            // A community's entry is in its community's chain; only the entries from
            // before the chains were split (no place of their own) are in chain 0.
            if e.chain != 0 && (Some(e.chain) != e.community_id || e.chain_seq.is_none()) {
                report.found(
                    Damage::Insertion,
                    format!("{name} is in a chain that is not its community's (moved?){whose}"),
                );
            }
            let walk = chains.entry(e.chain).or_default();
            if place > walk.next {
                report.found(
                    Damage::Deletion,
                    format!("entries {}..{} of {} are missing", walk.next, place - 1, chain_name(e.chain)),
                );
            }
            if e.prev_hash != walk.prev_hash {
                report.found(
                    Damage::Insertion,
                    format!("{name} does not link to the entry before it (inserted, or the one before was altered or removed){whose}"
                    ),
                );
            }
            if e.key_id.is_empty() {
                if keyed_seen {
                    report.found(
                        Damage::Insertion,
                        format!("{name} is not sealed with the key although entries before it are (forged?){whose}"),
                    );
                } else if audit::chain_hash(&e.prev_hash, place, &e.fields()) != e.hash {
                    report.found(Damage::Edit, format!("{name} was altered after it was written{whose}"));
                }
            } else if e.key_id != key.id() {
                report.found(
                    Damage::Unverifiable,
                    format!("{name} is sealed with another key ({}): was the secret key changed? It cannot be checked{whose}",
                        e.key_id
                    ),
                );
                keyed_seen = true;
            } else {
                keyed_seen = true;
                report.keyed += 1;
                if audit::keyed_hash(key, &e.prev_hash, place, &e.fields()) != e.hash {
                    report.found(Damage::Edit, format!("{name} was altered after it was written{whose}"));
                }
            }
            match Covers::parse(&e.covers) {
                Some(c) => {
                    for (sheet, seq, digest) in c.sheet_events {
                        covered.insert((sheet, seq), (digest, e.seq));
                    }
                    seals.extend(c.sealed_events);
                }
                None => report.found(Damage::Edit, format!("{name}'s list of sheet events cannot be read{whose}")),
            }
            if checkpoints.iter().any(|c| c.chain == e.chain && c.seq == place) {
                hashes.insert((e.chain, place), e.hash.clone());
            }
            walk.prev_hash = e.hash.clone();
            walk.next = place + 1;
            last_seq = e.seq;
            report.checked += 1;
        }
    }
    let heads = audit::heads(pool).await?;
    for h in &heads {
        let (last, last_hash) =
            chains.get(&h.chain).map(|w| (w.next - 1, w.prev_hash.as_str())).unwrap_or((0, GENESIS));
        let chain = chain_name(h.chain);
        if h.seq > last {
            report.found(
                Damage::Truncation,
                format!(
                    "{chain} ends at its entry {last} but {} were written (entries at the end were removed)",
                    h.seq
                ),
            );
        } else if h.seq < last {
            report.found(
                Damage::Insertion,
                format!(
                    "entries {}..{last} of {chain} were added after the last one written (its head says {})",
                    h.seq + 1,
                    h.seq
                ),
            );
        } else if h.seq > 0 && h.hash != last_hash {
            report.found(Damage::Edit, format!("the last entry of {chain} ({last}) is not the one that was written"));
        }
    }
    for chain in chains.keys().filter(|c| !heads.iter().any(|h| h.chain == **c)) {
        report
            .found(Damage::Insertion, format!("{} has entries but no head: it was never written", chain_name(*chain)));
    }
    for c in &checkpoints {
        report.checkpoints += 1;
        let chain = chain_name(c.chain);
        let last = chains.get(&c.chain).map(|w| w.next - 1).unwrap_or(0);
        match hashes.get(&(c.chain, c.seq)) {
            Some(h) if *h == c.hash => {}
            Some(_) => report.found(
                Damage::Edit,
                format!(
                    "entry {} of {chain} differs from the checkpoint kept of it: the chain up to it was rewritten",
                    c.seq
                ),
            ),
            None if c.seq > last => report.found(
                Damage::Truncation,
                format!("a checkpoint vouches for entry {} of {chain} but the chain ends at {last}", c.seq),
            ),
            None => report.found(
                Damage::Deletion,
                format!("entry {} of {chain}, which a checkpoint vouches for, is missing", c.seq),
            ),
        }
    }
    verify_events(app, &mut report, covered, &seals).await?;
    Ok(report)
}

/// Each sheet event against the entry that vouches for it, or the seal it falls under.
async fn verify_events(
    app: &App,
    report: &mut VerifyReport,
    mut covered: HashMap<(i64, i64), (String, i64)>,
    seals: &[Seal],
) -> AppResult<()> {
    let pool = app.store.read();
    let mut sealed: Vec<SealHasher> = seals.iter().map(|_| SealHasher::default()).collect();
    let mut cursor = 0;
    loop {
        let page = audit::event_digests(pool, cursor, PAGE).await?;
        let Some(last) = page.last() else { break };
        cursor = last.id;
        for e in page {
            report.events += 1;
            if let Some((digest, entry)) = covered.remove(&(e.sheet_id, e.seq)) {
                if digest != e.digest {
                    report.found(
                        Damage::Edit,
                        format!(
                            "event {} of sheet {} was altered after it was written (entry {entry} vouches for it)",
                            e.seq, e.sheet_id
                        ),
                    );
                }
            } else if let Some(i) = seals.iter().position(|s| e.id > s.after_id && e.id <= s.through_id) {
                sealed[i].add(e.id, &e.digest);
            } else {
                report.found(
                    Damage::Insertion,
                    format!(
                        "event {} of sheet {} is not vouched for by the audit trail (inserted?)",
                        e.seq, e.sheet_id
                    ),
                );
            }
        }
    }
    let mut missing: Vec<((i64, i64), i64)> = covered.into_iter().map(|(k, (_, entry))| (k, entry)).collect();
    missing.sort_unstable();
    for ((sheet, seq), entry) in missing {
        report.found(
            Damage::Deletion,
            format!("event {seq} of sheet {sheet} is missing (entry {entry} vouches that it was written)"),
        );
    }
    for (seal, hasher) in seals.iter().zip(sealed) {
        let got = hasher.seal(seal.after_id, seal.through_id);
        if got.count < seal.count {
            report.found(
                Damage::Deletion,
                format!(
                    "{} of the {} events sealed with ids {}..{} are missing",
                    seal.count - got.count,
                    seal.count,
                    seal.after_id + 1,
                    seal.through_id
                ),
            );
        } else if got != *seal {
            report.found(
                Damage::Edit,
                format!("events sealed with ids {}..{} were altered or replaced", seal.after_id + 1, seal.through_id),
            );
        }
    }
    Ok(())
}

fn read_checkpoints(app: &App, extra: &[PathBuf], report: &mut VerifyReport) -> Vec<Checkpoint> {
    let own = checkpoint_file(app);
    let mut out = Vec::new();
    let files = std::iter::once((own.as_path(), false)).chain(extra.iter().map(|p| (p.as_path(), true)));
    for (path, required) in files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if required || e.kind() != std::io::ErrorKind::NotFound => {
                report.found(Damage::Unverifiable, format!("checkpoints in {} cannot be read: {e}", display(path)));
                continue;
            }
            Err(_) => continue,
        };
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match Checkpoint::parse(app, line) {
                Ok(c) => out.push(c),
                Err(why) => report.found(
                    Damage::Unverifiable,
                    format!("line {} of {} is not a genuine checkpoint: {why}", n + 1, display(path)),
                ),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
