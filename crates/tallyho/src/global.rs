//! The optional process-wide default registry.

use std::sync::OnceLock;

use crate::Registry;

static GLOBAL: OnceLock<Registry> = OnceLock::new();

/// The process-wide registry: the one passed to [`set_global`], or a default
/// [`Registry::new`] created on first use.
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(Registry::new)
}

/// Installs `registry` as the process-wide registry.
///
/// # Errors
/// Gives `registry` back when a global registry already exists (set before, or created by an
/// earlier call to [`global`]).
pub fn set_global(registry: Registry) -> Result<(), Registry> {
    GLOBAL.set(registry)
}
