use crate::validation::ValidationError;
use serde::{Deserialize, Serialize};

/// What the resident came about (R-SHEET-1, R-RECV-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetKind {
    /// 报修
    Repair,
    /// 投诉
    Complaint,
    /// 情况反映
    SituationReport,
    /// 特殊服务 / 有偿服务
    SpecialService,
    /// 咨询
    Inquiry,
    /// 意见建议
    Suggestion,
    /// 其它
    Other,
}

impl SheetKind {
    pub const ALL: [SheetKind; 7] = [
        SheetKind::Repair,
        SheetKind::Complaint,
        SheetKind::SituationReport,
        SheetKind::SpecialService,
        SheetKind::Inquiry,
        SheetKind::Suggestion,
        SheetKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SheetKind::Repair => "repair",
            SheetKind::Complaint => "complaint",
            SheetKind::SituationReport => "situation_report",
            SheetKind::SpecialService => "special_service",
            SheetKind::Inquiry => "inquiry",
            SheetKind::Suggestion => "suggestion",
            SheetKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<SheetKind, ValidationError> {
        let s = s.trim();
        SheetKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label_zh() == s)
            .ok_or_else(|| ValidationError::new("sheet_kind.unknown"))
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SheetKind::Repair => "报修",
            SheetKind::Complaint => "投诉",
            SheetKind::SituationReport => "情况反映",
            SheetKind::SpecialService => "特殊服务",
            SheetKind::Inquiry => "咨询",
            SheetKind::Suggestion => "意见建议",
            SheetKind::Other => "其它",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            SheetKind::Repair => "Repair",
            SheetKind::Complaint => "Complaint",
            SheetKind::SituationReport => "Situation report",
            SheetKind::SpecialService => "Special/paid service",
            SheetKind::Inquiry => "Inquiry",
            SheetKind::Suggestion => "Suggestion",
            SheetKind::Other => "Other",
        }
    }
}

/// How the request reached the desk (R-SHEET-1). A visit is signed at once; a call or a
/// letter is signed later (补签, R-SHEET-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 来访
    Visit,
    /// 来电
    Phone,
    /// 来函
    Letter,
    /// 其它
    Other,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Visit, Channel::Phone, Channel::Letter, Channel::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Visit => "visit",
            Channel::Phone => "phone",
            Channel::Letter => "letter",
            Channel::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Channel, ValidationError> {
        let s = s.trim();
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s || c.label_zh() == s)
            .ok_or_else(|| ValidationError::new("channel.unknown"))
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Channel::Visit => "来访",
            Channel::Phone => "来电",
            Channel::Letter => "来函",
            Channel::Other => "其它",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Channel::Visit => "Visit",
            Channel::Phone => "Phone",
            Channel::Letter => "Letter",
            Channel::Other => "Other",
        }
    }

    /// Does the requester sign at registration? Otherwise the sheet waits for a later
    /// signature (R-SHEET-3).
    pub fn signs_at_registration(self) -> bool {
        matches!(self, Channel::Visit)
    }
}
