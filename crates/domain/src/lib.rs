//! The rules of the customer-service manual, as pure Rust.
//!
//! Nothing in this crate performs I/O, knows SQL or knows HTTP: values are parsed at the
//! edge into the types defined here, and the decisions the manual prescribes are made here.

pub mod auth;
mod code;
pub mod followup;
pub mod keys;
pub mod money;
pub mod person;
pub mod sheet;
pub mod time;
pub mod unit;
pub mod validation;

pub use money::Money;
pub use person::{IdDocument, IdKind, PersonName, Phone, PhoneKind};
pub use time::CivilDate;
pub use unit::{Area, DepartmentKind, Floor, OccupantRelation, RoomNo, UnitStatus};
pub use validation::{FieldErrors, ValidationError};
