//! R-SHEET-12: a sheet is rebuilt from its stored events at any time, so every shape of
//! event ever written must keep reading back, and reading it back must not change it.
//! `stored_events.jsonl` holds one line per shape, older ones (without fields added since)
//! included; a new event, or a new field, adds a line.

use huiqian_domain::sheet::lifecycle::{EVENT_TYPES, Recorded};
use huiqian_domain::sheet::{Event, Sheet};
use std::collections::BTreeSet;

fn stored() -> Vec<(String, Event)> {
    include_str!("stored_events.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let e: Event = serde_json::from_str(l).unwrap_or_else(|err| panic!("{l}: {err}"));
            (l.to_string(), e)
        })
        .collect()
}

#[test]
fn every_stored_event_shape_reads_back_unchanged() {
    for (line, event) in stored() {
        let again = serde_json::to_string(&event).unwrap();
        let a: serde_json::Value = serde_json::from_str(&line).unwrap();
        let b: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(a, b, "the event written as {line} is written back as {again}");
        assert_eq!(a["type"], event.name(), "{line}");
    }
}

#[test]
fn the_stored_shapes_cover_every_event_type() {
    let seen: BTreeSet<&str> = stored().iter().map(|(_, e)| e.name()).collect();
    let all: BTreeSet<&str> = EVENT_TYPES.iter().copied().collect();
    assert_eq!(seen, all, "every event type has a stored shape here, and no other type is stored");
}

#[test]
fn a_history_of_every_shape_replays() {
    // Replaying never panics on any stored event, whatever order an old history holds.
    let events = stored();
    let history: Vec<Recorded> = events
        .iter()
        .enumerate()
        .map(|(i, (_, e))| Recorded { event: e.clone(), at: i as i64 * 60_000, by: 10 })
        .collect();
    let sheet = Sheet::replay(&history).expect("a history that starts with a registration replays");
    assert_eq!(sheet.events as usize, history.len());
}

#[test]
fn an_unknown_event_type_is_refused_not_guessed() {
    assert!(serde_json::from_str::<Event>(r#"{"type":"teleported","to":3}"#).is_err());
}
