//! A tenant's `[tenants.guardrail]`, compiled.
use std::time::Duration;

/// What the guardrail does past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deprovisions past the limit are held until an operator releases
    /// or drops them.
    Hold,
    /// Deprovisions are counted and a would-be hold is logged and
    /// counted, but every request goes on (to tune the limit first).
    DryRun,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hold => "hold",
            Mode::DryRun => "dry_run",
        }
    }
}

/// The guardrail of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailSettings {
    /// Deprovisions allowed per window; the next one is held.
    pub max_deprovisions: u32,
    /// The sliding window the limit counts over.
    pub window: Duration,
    pub mode: Mode,
    /// Group ids (as the tenant's clients name them) whose member removals
    /// count as deprovisions, as does deleting or replacing the group.
    pub privileged_groups: Vec<String>,
    /// The `Retry-After` a held request is answered with.
    pub retry_after: Duration,
}

impl GuardrailSettings {
    /// Whether `id` is one of the privileged groups (ids compare exactly:
    /// RFC 7643 §3.1 ids are case-sensitive).
    pub fn privileged(&self, id: &str) -> bool {
        self.privileged_groups.iter().any(|g| g == id)
    }
}
