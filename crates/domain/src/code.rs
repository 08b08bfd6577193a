//! Closed vocabularies of the manual (repair classes, follow-up methods, …): each value has
//! a stable code stored in the database and used in the API, and Chinese and English names.

/// An enum of codes with their labels; `parse` accepts the code or the Chinese name.
macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident, $unknown:literal, { $($v:ident => $code:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $code),+ }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$v => $zh),+ }
            }

            pub fn label_en(self) -> &'static str {
                match self { $($name::$v => $en),+ }
            }

            /// By code or by its Chinese name.
            pub fn parse(s: &str) -> Result<$name, crate::validation::ValidationError> {
                let s = s.trim();
                if s.is_empty() {
                    return Err(crate::validation::ValidationError::new("required"));
                }
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s || v.label_zh() == s)
                    .ok_or_else(|| crate::validation::ValidationError::new($unknown))
            }
        }
    };
}

pub(crate) use code_enum;
