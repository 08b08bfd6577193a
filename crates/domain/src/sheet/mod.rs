//! The countersign sheet (会签单, R-SHEET-1 … R-SHEET-12): its kinds, its lifecycle as a
//! pure state machine over an event history, its number, and its clocks.

pub mod calendar;
pub mod holidays;
mod kind;
pub mod lifecycle;
pub mod number;
pub mod reminder;
pub mod request;
pub mod search;
pub mod sla;
mod step;

pub use kind::{Channel, SheetKind};
pub use lifecycle::{
    Acceptance, Command, Confirmation, Event, Handover, HandoverState, Outcome, Refusal, Sheet, SheetState,
};
pub use step::Step;
