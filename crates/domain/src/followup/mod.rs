//! Follow-up visits (回访, R-FU-1 … R-FU-5) and the corrective actions they open (R-FU-4).
//!
//! - [`sampling`]: which collected sheets are followed up, at the manual's rates, by a
//!   draw anyone holding the community's key can repeat, never below the rate.
//! - [`visit`]: a follow-up task from its assignment to the manager's review, the
//!   phone cap (R-FU-2).
//! - [`capa`]: the nonconformity / corrective and preventive action report an
//!   unsatisfied or failed follow-up opens.

pub mod capa;
pub mod sampling;
pub mod visit;

pub use capa::{CapaPlan, CapaState};
pub use sampling::{Cause, Decision, Rates, Reason, Tally};
pub use visit::{AfterUnreachable, Method, Outcome, PhoneCheck, VisitRecord, VisitState, YearShare};
