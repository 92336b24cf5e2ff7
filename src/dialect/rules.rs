//! The named quirk rules, which of them are switched on for a tenant
//! ([`RuleSet`]), and the report of which fired on a request ([`Applied`]).
//!
//! A rule's [`Rule::name`] is its stable identity: it is the config key
//! (`dialect.rules.<name>`), the metrics label and the log field, so a
//! name never changes once released. Depends on std only.
use super::Profile;
use std::fmt;
use std::str::FromStr;

/// One IdP quirk turned into canonical RFC 7644.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// PATCH `op` in any case (`"Replace"`) lower-cased; `"delete"` → `"remove"`.
    OpCase,
    /// `"True"` / `"false"` strings for boolean attributes, also in PATCH
    /// value filters (`emails[primary eq "True"]`), become JSON booleans.
    StringBooleans,
    /// Path-less add/replace values with dotted (`name.givenName`) or
    /// URN-qualified keys are nested (or split into separate operations).
    PathlessDottedKeys,
    /// `remove members` with a value list becomes one
    /// `members[value eq "..."]` remove per member.
    RemoveByValueList,
    /// `"$ref": null` inside complex values (members) is dropped.
    NullRef,
    /// The enterprise `manager` sent as a bare string (or as a one-element
    /// list) becomes `{"value": ...}`.
    ManagerValue,
    /// Multi-valued complex values (`roles`) sent as stringified JSON are
    /// parsed.
    StringifiedJson,
    /// Several add/replace operations on sub-attributes of one filtered
    /// element (`addresses[type eq "work"].locality`, `....region`) merge
    /// into one operation on that element.
    MergeFilteredSubAttrs,
    /// Read-only `id` and `meta` in POST/PUT bodies and in path-less
    /// add/replace values are dropped (RFC 7643 §3.1).
    ReadOnlyIdMeta,
    /// The read-only `groups` of a User (Okta sends `"groups": []`) is
    /// dropped from POST/PUT bodies.
    ReadOnlyGroups,
    /// `password` in a create is dropped (Okta sends a placeholder even
    /// without password sync). Off keeps it for the mapping to handle.
    CreatePassword,
    /// The `aadOptscim062020` (and `AzureAdScimPatch2017`) query flags are
    /// accepted and stripped before the query reaches the upstream.
    AadQueryFlags,
    /// A multi-valued complex attribute (`emails`) sent as a single object
    /// is wrapped in an array.
    SingleValueAsList,
    /// `Authorization: Bearer Bearer <token>` → `Bearer <token>`.
    DoubledBearer,
    /// `schemas` entries that are no schema of the resource type and hold
    /// no data in the body (Entra's `.../ADSCIM/2.0/Group`) are dropped.
    ForeignSchemas,
    /// Extension attributes sent unqualified at the top level of a body
    /// (`"department"` beside `"userName"`) move under their extension URN;
    /// a PATCH path naming one (`"manager"`) gets the URN prefix.
    UnqualifiedExtensionAttrs,
    /// An add or replace on a value-filtered path
    /// (`addresses[type eq "work"].locality`) whose filter selects no
    /// element creates the element the filter's `eq` terms describe, with
    /// the value, instead of 400 `noTarget` (Entra's upsert; resolved
    /// against the resource by [`super::resolve_upserts`]).
    FilteredUpsert,
}

/// The rules switched on for a tenant, and whether they only report.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleSet {
    bits: u32,
    /// Report what would change without changing anything.
    pub shadow: bool,
}

/// The rules that fired on one request (in shadow mode: that would have
/// fired; the request is untouched).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Applied {
    bits: u32,
    /// True when the rules only reported (the request is unchanged).
    pub shadow: bool,
}

/// A rule or profile name that is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    kind: &'static str,
    name: String,
}

// === impl Rule ===

impl Rule {
    /// Every rule, in a stable order.
    pub const ALL: [Rule; 17] = [
        Rule::OpCase,
        Rule::StringBooleans,
        Rule::PathlessDottedKeys,
        Rule::RemoveByValueList,
        Rule::NullRef,
        Rule::ManagerValue,
        Rule::StringifiedJson,
        Rule::MergeFilteredSubAttrs,
        Rule::ReadOnlyIdMeta,
        Rule::ReadOnlyGroups,
        Rule::CreatePassword,
        Rule::AadQueryFlags,
        Rule::SingleValueAsList,
        Rule::DoubledBearer,
        Rule::ForeignSchemas,
        Rule::UnqualifiedExtensionAttrs,
        Rule::FilteredUpsert,
    ];

    /// The stable name used in config, metrics labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            Rule::OpCase => "op_case",
            Rule::StringBooleans => "string_booleans",
            Rule::PathlessDottedKeys => "pathless_dotted_keys",
            Rule::RemoveByValueList => "remove_by_value_list",
            Rule::NullRef => "null_ref",
            Rule::ManagerValue => "manager_value",
            Rule::StringifiedJson => "stringified_json",
            Rule::MergeFilteredSubAttrs => "merge_filtered_sub_attrs",
            Rule::ReadOnlyIdMeta => "read_only_id_meta",
            Rule::ReadOnlyGroups => "read_only_groups",
            Rule::CreatePassword => "create_password",
            Rule::AadQueryFlags => "aad_query_flags",
            Rule::SingleValueAsList => "single_value_as_list",
            Rule::DoubledBearer => "doubled_bearer",
            Rule::ForeignSchemas => "foreign_schemas",
            Rule::UnqualifiedExtensionAttrs => "unqualified_extension_attrs",
            Rule::FilteredUpsert => "filtered_upsert",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rule {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName::new("rule", s))
    }
}

// === impl RuleSet ===

impl RuleSet {
    /// No rule on: requests pass unchanged.
    pub const fn none() -> Self {
        RuleSet {
            bits: 0,
            shadow: false,
        }
    }

    /// Every rule on.
    pub fn all() -> Self {
        Rule::ALL
            .into_iter()
            .fold(Self::none(), |s, r| s.with(r, true))
    }

    /// The defaults of a profile. Resolve [`Profile::Auto`] with
    /// [`super::detect`] first; unresolved it gets the generic defaults.
    ///
    /// The generic set only holds rules that cannot change the meaning of a
    /// request a compliant client sends; the IdP sets add the rules for
    /// what that IdP is documented (or known) to send.
    pub fn for_profile(profile: Profile) -> Self {
        use Rule::*;
        let rules: &[Rule] = match profile {
            Profile::Generic | Profile::Auto => &[
                OpCase,
                StringBooleans,
                NullRef,
                SingleValueAsList,
                ReadOnlyIdMeta,
                DoubledBearer,
            ],
            Profile::Entra => &[
                OpCase,
                StringBooleans,
                PathlessDottedKeys,
                RemoveByValueList,
                NullRef,
                ManagerValue,
                StringifiedJson,
                MergeFilteredSubAttrs,
                ReadOnlyIdMeta,
                ReadOnlyGroups,
                AadQueryFlags,
                SingleValueAsList,
                DoubledBearer,
                ForeignSchemas,
                UnqualifiedExtensionAttrs,
                FilteredUpsert,
            ],
            Profile::Okta => &[
                OpCase,
                StringBooleans,
                NullRef,
                ReadOnlyIdMeta,
                ReadOnlyGroups,
                CreatePassword,
                SingleValueAsList,
                DoubledBearer,
            ],
        };
        rules.iter().fold(Self::none(), |s, &r| s.with(r, true))
    }

    /// This set with `rule` switched on or off.
    #[must_use]
    pub fn with(mut self, rule: Rule, on: bool) -> Self {
        self.set(rule, on);
        self
    }

    /// This set in shadow mode (or not).
    #[must_use]
    pub fn shadowed(mut self, shadow: bool) -> Self {
        self.shadow = shadow;
        self
    }

    /// Switches `rule` on or off.
    pub fn set(&mut self, rule: Rule, on: bool) {
        if on {
            self.bits |= rule.bit();
        } else {
            self.bits &= !rule.bit();
        }
    }

    /// True when `rule` is on.
    pub fn is_on(&self, rule: Rule) -> bool {
        self.bits & rule.bit() != 0
    }

    /// The rules that are on, in [`Rule::ALL`] order.
    pub fn rules(&self) -> impl Iterator<Item = Rule> + '_ {
        Rule::ALL.into_iter().filter(|r| self.is_on(*r))
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        Self::for_profile(Profile::Generic)
    }
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules().map(Rule::name).collect::<Vec<_>>())
            .field("shadow", &self.shadow)
            .finish()
    }
}

// === impl Applied ===

impl Applied {
    /// Records that `rule` fired.
    pub fn record(&mut self, rule: Rule) {
        self.bits |= rule.bit();
    }

    /// Adds what `other` recorded.
    pub fn merge(&mut self, other: Applied) {
        self.bits |= other.bits;
        self.shadow |= other.shadow;
    }

    /// True when `rule` fired.
    pub fn contains(&self, rule: Rule) -> bool {
        self.bits & rule.bit() != 0
    }

    /// True when no rule fired.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The rules that fired, in [`Rule::ALL`] order.
    pub fn rules(&self) -> impl Iterator<Item = Rule> + '_ {
        Rule::ALL.into_iter().filter(|r| self.contains(*r))
    }
}

impl fmt::Debug for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applied")
            .field("rules", &self.rules().map(Rule::name).collect::<Vec<_>>())
            .field("shadow", &self.shadow)
            .finish()
    }
}

// === impl UnknownName ===

impl UnknownName {
    pub(super) fn new(kind: &'static str, name: &str) -> Self {
        UnknownName {
            kind,
            name: name.to_string(),
        }
    }
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = match self.kind {
            "rule" => Rule::ALL.iter().map(|r| r.name()).collect(),
            _ => Profile::ALL.iter().map(|p| p.as_str()).collect(),
        };
        write!(
            f,
            "unknown {} \"{}\" (expected one of: {})",
            self.kind,
            self.name,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}
