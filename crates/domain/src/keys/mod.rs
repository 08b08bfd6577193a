//! Key custody (钥匙管理, R-KEY-1 … R-KEY-8, R-MOV-6, R-DUTY-3).
//!
//! The property keeps keys of units and rooms in a cabinet. Each key set's books
//! ([`KeyBook`]) say how many keys the property holds and how many are out on the one
//! open sign-out; every movement is a decision here: receiving keys (R-KEY-1), signing
//! them out for work (R-KEY-3, with the owner's authorisation for someone else R-KEY-5 and
//! a department manager's approval for special rooms R-KEY-6), taking them back, the
//! cabinet's seal after hours and its two-person opening at night (R-KEY-7), and the daily
//! blind count whose every difference becomes an incident (R-KEY-8). The books change only
//! through these steps: a difference is never edited away, it is reported and resolved.

pub mod cabinet;
pub mod count;

use crate::code::code_enum;
use crate::sheet::lifecycle::{Ms, Refusal, UserId};
use serde::{Deserialize, Serialize};

code_enum!(
    /// Why the property holds a key set.
    Basis, "key.basis_unknown", {
        CustodyAgreement => "custody_agreement", "业主托管（装修期）", "Owner's custody agreement";
        VacantUnit => "vacant_unit", "空置房", "Vacant unit";
        PublicRoom => "public_room", "公共用房", "Public room";
    }
);

code_enum!(
    /// Rooms whose keys leave only with a department manager's approval (R-KEY-6).
    SpecialRoom, "key.special_unknown", {
        Plant => "plant", "设备机房", "Plant room";
        Roof => "roof", "天台屋面", "Roof";
        Power => "power", "配电房", "Power room";
        Gas => "gas", "燃气间", "Gas room";
        Other => "other", "其他特殊房间", "Other special room";
    }
);

code_enum!(
    /// The work a key is taken for: keys are issued only for work (R-KEY-3).
    ReasonKind, "key.reason_kind_unknown", {
        Repair => "repair", "维修", "Repair";
        Inspection => "inspection", "巡查验房", "Inspection";
        Renovation => "renovation", "装修", "Renovation";
        Emergency => "emergency", "紧急情况", "Emergency";
        OtherWork => "other_work", "其他工作", "Other work";
    }
);

code_enum!(
    /// Who takes a key: a member of staff, the owner, or someone else (a family member, a
    /// contractor, an agent), who needs the owner's authorisation (R-KEY-5).
    TakerKind, "key.taker_kind_unknown", {
        Staff => "staff", "员工", "Staff";
        Owner => "owner", "业主本人", "The owner";
        Other => "other", "他人", "Someone else";
    }
);

code_enum!(
    /// How the owner authorised someone else to take the key (R-KEY-5, R-MOV-6).
    Authorisation, "key.authorisation_unknown", {
        Agreement => "agreement", "托管协议授权人", "Named in the custody agreement";
        Letter => "letter", "业主书面授权书", "Owner's authorisation letter";
        Recorded => "recorded", "业主授权已登记", "Owner's authorisation recorded";
    }
);

code_enum!(
    /// Where a key set stands in the books.
    KeyState, "key.state_unknown", {
        Held => "held", "在管", "Held";
        Lost => "lost", "已遗失", "Lost";
        Released => "released", "已交还业主", "Handed back to the owner";
    }
);

/// One key set's books: how many keys the property holds and how many are out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBook {
    pub state: KeyState,
    pub total: i64,
    /// Keys out on the open sign-out, not yet returned.
    pub out: i64,
    /// Whether a sign-out is open (at most one, R-KEY-3; a partial return keeps it open).
    pub open_loan: bool,
}

impl KeyBook {
    /// A key set nobody has delivered yet.
    pub fn empty() -> KeyBook {
        KeyBook { state: KeyState::Held, total: 0, out: 0, open_loan: false }
    }

    /// Keys that should hang on the hook.
    pub fn on_hook(&self) -> i64 {
        self.total - self.out
    }

    /// Keys delivered (R-KEY-1): a new set, more keys of a held set, or a set handed back
    /// earlier coming into custody again. A lost set comes back only through its incident.
    pub fn receive(&self, quantity: i64) -> Result<KeyBook, Refusal> {
        if !(1..=MAX_KEYS).contains(&quantity) {
            return Err(Refusal("key.quantity"));
        }
        if self.state == KeyState::Lost {
            return Err(Refusal("key.lost"));
        }
        if self.total + quantity > MAX_KEYS {
            return Err(Refusal("key.quantity"));
        }
        Ok(KeyBook { state: KeyState::Held, total: self.total + quantity, ..*self })
    }

    /// Sign keys out (R-KEY-3, R-KEY-5, R-KEY-6, R-KEY-7, R-MOV-6).
    pub fn sign_out(&self, s: &SignOut, cabinet: cabinet::CabinetState, now: Ms) -> Result<KeyBook, Refusal> {
        match self.state {
            KeyState::Held => {}
            KeyState::Lost => return Err(Refusal("key.lost")),
            KeyState::Released => return Err(Refusal("key.released")),
        }
        if cabinet == cabinet::CabinetState::Sealed {
            return Err(Refusal("key.cabinet_sealed"));
        }
        if self.open_loan {
            return Err(Refusal("key.already_out"));
        }
        if s.quantity < 1 || s.quantity > self.on_hook() {
            return Err(Refusal("key.quantity"));
        }
        if s.reason.trim().is_empty() {
            return Err(Refusal("key.reason_required"));
        }
        if s.reason_kind == ReasonKind::Repair && !s.sheet_linked {
            return Err(Refusal("key.sheet_required"));
        }
        if s.due_at <= now {
            return Err(Refusal("key.due_in_past"));
        }
        if !s.taker_signed {
            return Err(Refusal("key.taker_signature_required"));
        }
        if s.taker == Taker::Staff(s.issuer) {
            return Err(Refusal("key.issuer_is_taker"));
        }
        if s.special && !s.approved {
            return Err(Refusal("key.approval_required"));
        }
        self.owner_allows(s, now)?;
        Ok(KeyBook { out: s.quantity, open_loan: true, ..*self })
    }

    /// An owner's key (or a vacant unit's, which still belongs to its owner) goes to
    /// someone else only on the owner's authorisation, confirmed by phone where the
    /// community asks for it (R-KEY-5); a key in custody under an agreement goes only
    /// within its dates and for the work it names (R-MOV-6).
    fn owner_allows(&self, s: &SignOut, now: Ms) -> Result<(), Refusal> {
        if let Some(a) = &s.agreement {
            if now < a.starts_at || now >= a.ends_at {
                return Err(Refusal("key.agreement_not_in_force"));
            }
            if matches!(s.taker, Taker::Staff(_)) && !a.scope.contains(&s.reason_kind) {
                return Err(Refusal("key.agreement_scope"));
            }
        } else if s.basis == Basis::CustodyAgreement {
            return Err(Refusal("key.agreement_required"));
        }
        if s.basis == Basis::PublicRoom || !matches!(s.taker, Taker::Other) {
            return Ok(());
        }
        match s.authorisation {
            None => return Err(Refusal("key.owner_authorisation_required")),
            Some(Authorisation::Agreement) if !s.agreement.as_ref().is_some_and(|a| a.names_taker) => {
                return Err(Refusal("key.not_named_in_agreement"));
            }
            Some(Authorisation::Letter) if !s.letter_attached => return Err(Refusal("key.letter_required")),
            Some(_) => {}
        }
        if s.phone_confirmation_required && !s.phone_confirmed {
            return Err(Refusal("key.phone_confirmation_required"));
        }
        Ok(())
    }

    /// Keys brought back (R-KEY-3, R-KEY-4): by the taker in person, confirmed by the
    /// receiver. Fewer than are out leaves the sign-out open.
    pub fn take_back(&self, quantity: i64, in_person: bool, signed: bool) -> Result<(KeyBook, Returned), Refusal> {
        if !self.open_loan {
            return Err(Refusal("key.not_out"));
        }
        if quantity < 1 || quantity > self.out {
            return Err(Refusal("key.return_quantity"));
        }
        if !in_person {
            return Err(Refusal("key.return_in_person"));
        }
        if !signed {
            return Err(Refusal("key.returner_signature_required"));
        }
        let out = self.out - quantity;
        let returned = if out == 0 { Returned::All } else { Returned::Partly { still_out: out } };
        Ok((KeyBook { out, open_loan: out > 0, ..*self }, returned))
    }

    /// Keys found missing, on an incident's resolution: out on the open sign-out (that
    /// sign-out ends with them) or from the hook. A set with no key left is lost.
    pub fn lose(&self, quantity: i64, from_loan: bool) -> Result<KeyBook, Refusal> {
        let available = if from_loan { self.out } else { self.on_hook() };
        if quantity < 1 || quantity > available {
            return Err(Refusal("key.lost_quantity"));
        }
        let total = self.total - quantity;
        let (out, open_loan) = if from_loan { (0, false) } else { (self.out, self.open_loan) };
        let state = if total == 0 { KeyState::Lost } else { self.state };
        Ok(KeyBook { state, total, out, open_loan })
    }

    /// The owner takes the keys back: every key must be on the hook.
    pub fn release(&self) -> Result<KeyBook, Refusal> {
        if self.state != KeyState::Held {
            return Err(Refusal("key.not_held"));
        }
        if self.open_loan {
            return Err(Refusal("key.already_out"));
        }
        Ok(KeyBook { state: KeyState::Released, total: 0, out: 0, open_loan: false })
    }
}

/// More keys than this in one set is a typing mistake.
pub const MAX_KEYS: i64 = 50;

/// What a return did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    All,
    /// Fewer keys than were taken: the sign-out stays open and is flagged.
    Partly {
        still_out: i64,
    },
}

/// Who takes the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taker {
    Staff(UserId),
    Owner,
    Other,
}

/// A custody agreement in force for the key (R-MOV-6), as it bears on one sign-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementTerms {
    pub starts_at: Ms,
    /// Exclusive.
    pub ends_at: Ms,
    /// The work the owner lets staff take the key for.
    pub scope: Vec<ReasonKind>,
    /// The taker (someone else) is one of the people the agreement authorises.
    pub names_taker: bool,
}

/// A sign-out as the issuer fills it in, with what the application found about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOut {
    pub quantity: i64,
    pub reason_kind: ReasonKind,
    pub reason: String,
    pub sheet_linked: bool,
    pub due_at: Ms,
    pub taker: Taker,
    pub taker_signed: bool,
    /// The member of staff confirming the issue.
    pub issuer: UserId,
    pub basis: Basis,
    /// The key opens a special room (R-KEY-6) …
    pub special: bool,
    /// … and a department manager's approval for this sign-out is on record.
    pub approved: bool,
    pub agreement: Option<AgreementTerms>,
    pub authorisation: Option<Authorisation>,
    pub letter_attached: bool,
    pub phone_confirmation_required: bool,
    pub phone_confirmed: bool,
}

/// A department manager approves a special room's sign-out before the key leaves
/// (R-KEY-6); nobody approves his own request.
pub fn check_approval(requested_by: UserId, approver: UserId, approver_heads: bool) -> Result<(), Refusal> {
    if requested_by == approver {
        return Err(Refusal("key.approve_own_request"));
    }
    if !approver_heads {
        return Err(Refusal("key.approver_not_manager"));
    }
    Ok(())
}

/// Every refusal code of the module, for the translation check.
pub const REFUSALS: &[&str] = &[
    "key.quantity",
    "key.lost",
    "key.released",
    "key.cabinet_sealed",
    "key.already_out",
    "key.reason_required",
    "key.sheet_required",
    "key.due_in_past",
    "key.taker_signature_required",
    "key.issuer_is_taker",
    "key.approval_required",
    "key.agreement_not_in_force",
    "key.agreement_scope",
    "key.agreement_required",
    "key.owner_authorisation_required",
    "key.not_named_in_agreement",
    "key.letter_required",
    "key.phone_confirmation_required",
    "key.not_out",
    "key.return_quantity",
    "key.return_in_person",
    "key.returner_signature_required",
    "key.lost_quantity",
    "key.not_held",
    "key.approve_own_request",
    "key.approver_not_manager",
];

#[cfg(test)]
mod tests;
