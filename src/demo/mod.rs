//! The demo company: deterministic, realistic data for a first look.

use crate::app::App;

pub async fn load_if_empty(_app: &App) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    Ok(false)
}

pub async fn print_logins(
    _app: &App,
    _loaded: bool,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}
