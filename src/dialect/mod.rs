//! IdP dialect normalization: known quirks of identity providers' SCIM
//! clients (Microsoft Entra ID, Okta) turned into canonical RFC 7644
//! before validation and mapping.
//!
//! A tenant names a [`Profile`] (`entra`, `okta`, `generic`, or `auto`,
//! resolved per request by [`detect`]); the profile gives the default
//! [`RuleSet`], which config may switch rule by rule, or put in `shadow`
//! mode to report what would change without changing anything. Every entry
//! point returns [`Applied`]: the rules that fired, for the metrics and the
//! access log.
//!
//! ```
//! use scim_gateway::dialect::{normalize_patch, Profile, Rule, RuleSet};
//! use scim_gateway::scim::schema::SchemaRegistry;
//! use serde_json::json;
//!
//! let registry = SchemaRegistry::builtin();
//! let users = registry.resource_type("User").expect("builtin");
//! // Entra ID without the aadOptscim062020 flag (its "disable user").
//! let mut body = json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
//! });
//! let rules = RuleSet::for_profile(Profile::Entra);
//! let applied = normalize_patch(&mut body, &rules, &registry, users);
//! assert_eq!(body["Operations"][0], json!({"op": "replace", "path": "active", "value": false}));
//! assert!(applied.contains(Rule::OpCase) && applied.contains(Rule::StringBooleans));
//! ```
//!
//! Pure functions over `serde_json::Value` and the schema registry: no
//! tokio, no hyper. Depends on [`crate::scim`] only.
mod auth;
mod detect;
mod patch;
mod patch_merge;
mod patch_ops;
mod query;
mod resource;
mod rules;
mod upsert;
mod values;

pub(crate) use auth::normalize_authorization;
pub(crate) use detect::detect;
pub use patch::normalize_patch;
pub(crate) use query::normalize_query;
pub(crate) use resource::normalize_resource;
pub use rules::{Applied, Rule, RuleSet, UnknownName};
pub(crate) use upsert::{has_upsert_candidates, resolve_upserts};

use std::fmt;
use std::str::FromStr;

/// Which IdP's dialect a tenant speaks (`idp_profile` in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Microsoft Entra ID (Azure AD) provisioning.
    Entra,
    /// Okta provisioning.
    Okta,
    /// Any other client: only meaning-preserving rules.
    Generic,
    /// Decide per request with [`detect`].
    Auto,
}

/// What a resource body is for: its rules differ (a password is only
/// dropped from creates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// POST: a new resource.
    Create,
    /// PUT: the whole new state of a resource.
    Replace,
}

/// A tenant's dialect settings (`[tenants.dialect]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDialect {
    pub profile: Profile,
    /// Rules switched on beyond the profile's.
    pub enable: Vec<Rule>,
    /// Rules of the profile switched off.
    pub disable: Vec<Rule>,
    /// Report what would change, change nothing.
    pub shadow: bool,
}

impl TenantDialect {
    /// The rules for one request (`auto` resolved by its User-Agent and
    /// query flags).
    pub fn rules(&self, user_agent: Option<&str>, query: Option<&str>) -> RuleSet {
        self.rules_for(user_agent, None, query)
    }

    /// The rules for one request once its token is verified: `auto`
    /// also weighs the token's issuer (the strongest evidence, see
    /// [`detect`]).
    pub fn rules_for(
        &self,
        user_agent: Option<&str>,
        token_issuer: Option<&str>,
        query: Option<&str>,
    ) -> RuleSet {
        let profile = self.profile.resolve(user_agent, token_issuer, query);
        let mut rules = RuleSet::for_profile(profile);
        for r in &self.enable {
            rules.set(*r, true);
        }
        for r in &self.disable {
            rules.set(*r, false);
        }
        rules.shadow = self.shadow;
        rules
    }
}

// === impl Profile ===

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 4] = [
        Profile::Entra,
        Profile::Okta,
        Profile::Generic,
        Profile::Auto,
    ];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Entra => "entra",
            Profile::Okta => "okta",
            Profile::Generic => "generic",
            Profile::Auto => "auto",
        }
    }

    /// This profile, or for `auto` the one [`detect`] finds.
    pub fn resolve(
        self,
        user_agent: Option<&str>,
        token_issuer: Option<&str>,
        query: Option<&str>,
    ) -> Profile {
        match self {
            Profile::Auto => detect(user_agent, token_issuer, query),
            concrete => concrete,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName::new("idp_profile", s))
    }
}

/// Runs `normalize` on the value itself, or in shadow mode on a copy that
/// is then thrown away, so a shadowed request is never touched.
fn run_shadowed<T: Clone>(
    target: &mut T,
    rules: &RuleSet,
    normalize: impl FnOnce(&mut T) -> Applied,
) -> Applied {
    if rules.shadow {
        let mut copy = target.clone();
        let mut applied = normalize(&mut copy);
        applied.shadow = true;
        applied
    } else {
        normalize(target)
    }
}

#[cfg(test)]
mod tests;
