//! The built-in schemas: core User and Group (RFC 7643 §4.1, §4.2) and the
//! Enterprise User extension (RFC 7643 §4.3), as in RFC 7643 §8.7.1.
use super::{
    AttrType, Attribute, Mutability, Returned, Schema, Uniqueness, ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA, USER_SCHEMA,
};

// A compact builder so that the schema text below reads like the RFC's table.
impl Attribute {
    fn desc(mut self, d: &str) -> Self {
        self.description = d.to_string();
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| v.to_string()).collect();
        self
    }
    fn refs(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| v.to_string()).collect();
        self
    }
    fn subs(mut self, subs: Vec<Attribute>) -> Self {
        self.sub_attributes = subs;
        self
    }
}

fn string(name: &str) -> Attribute {
    Attribute::new(name, AttrType::String)
}
fn boolean(name: &str) -> Attribute {
    Attribute::new(name, AttrType::Boolean)
}
fn reference(name: &str, types: &[&str]) -> Attribute {
    Attribute::new(name, AttrType::Reference).refs(types)
}
fn complex(name: &str, subs: Vec<Attribute>) -> Attribute {
    Attribute::new(name, AttrType::Complex).subs(subs)
}

/// The sub-attributes shared by the multi-valued attributes of §2.4:
/// value, display, type, primary (and `$ref` where given).
fn multi_valued(name: &str, value: Attribute, types: &[&str], what: &str) -> Attribute {
    let mut subs = vec![
        value,
        string("display").desc("A human-readable name, primarily used for display purposes. READ-ONLY."),
        string("type")
            .canonical(types)
            .desc(&format!("A label indicating the attribute's function, e.g., {what}.")),
        boolean("primary").desc(
            "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
        ),
    ];
    if types.is_empty() {
        subs[2].canonical_values.clear();
    }
    complex(name, subs).multi()
}

/// The core User schema, `urn:ietf:params:scim:schemas:core:2.0:User`.
pub(crate) fn core_user() -> Schema {
    let name = complex(
        "name",
        vec![
            string("formatted").desc("The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
            string("familyName").desc("The family name of the User, or last name in most Western languages."),
            string("givenName").desc("The given name of the User, or first name in most Western languages."),
            string("middleName").desc("The middle name(s) of the User."),
            string("honorificPrefix").desc("The honorific prefix(es) of the User, or title in most Western languages."),
            string("honorificSuffix").desc("The honorific suffix(es) of the User, or suffix in most Western languages."),
        ],
    )
    .desc("The components of the user's real name.");
    let addresses = complex(
        "addresses",
        vec![
            string("formatted").desc("The full mailing address, formatted for display or use with a mailing label."),
            string("streetAddress").desc("The full street address component."),
            string("locality").desc("The city or locality component."),
            string("region").desc("The state or region component."),
            string("postalCode").desc("The zip code or postal code component."),
            string("country").desc("The country name component."),
            string("type")
                .canonical(&["work", "home", "other"])
                .desc("A label indicating the attribute's function, e.g., 'work' or 'home'."),
            boolean("primary").desc("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
        ],
    )
    .multi()
    .desc("A physical mailing address for this User.");
    let groups = complex(
        "groups",
        vec![
            string("value")
                .mutability(Mutability::ReadOnly)
                .desc("The identifier of the User's group."),
            reference("$ref", &["User", "Group"])
                .mutability(Mutability::ReadOnly)
                .desc("The URI of the corresponding 'Group' resource to which the user belongs."),
            string("display")
                .mutability(Mutability::ReadOnly)
                .desc("A human-readable name, primarily used for display purposes."),
            string("type")
                .canonical(&["direct", "indirect"])
                .mutability(Mutability::ReadOnly)
                .desc("A label indicating the attribute's function, e.g., 'direct' or 'indirect'."),
        ],
    )
    .multi()
    .mutability(Mutability::ReadOnly)
    .desc("A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.");
    let x509 = complex(
        "x509Certificates",
        vec![
            Attribute::new("value", AttrType::Binary).desc("The value of an X.509 certificate."),
            string("display").desc("A human-readable name, primarily used for display purposes."),
            string("type").desc("A label indicating the attribute's function."),
            boolean("primary").desc("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
        ],
    )
    .multi()
    .desc("A list of certificates issued to the User.");
    Schema {
        id: USER_SCHEMA.to_string(),
        name: "User".to_string(),
        description: "User Account".to_string(),
        attributes: vec![
            string("userName")
                .required()
                .unique(Uniqueness::Server)
                .desc("Unique identifier for the User, typically used by the user to directly authenticate to the service provider. REQUIRED."),
            name,
            string("displayName").desc("The name of the User, suitable for display to end-users."),
            string("nickName").desc("The casual way to address the user in real life."),
            reference("profileUrl", &["external"]).desc("A fully qualified URL pointing to a page representing the User's online profile."),
            string("title").desc("The user's title, such as \"Vice President.\""),
            string("userType").desc("Used to identify the relationship between the organization and the user."),
            string("preferredLanguage").desc("Indicates the User's preferred written or spoken language."),
            string("locale").desc("Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."),
            string("timezone").desc("The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."),
            boolean("active").desc("A Boolean value indicating the User's administrative status."),
            string("password")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never)
                .desc("The User's cleartext password. This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password."),
            multi_valued("emails", string("value").desc("Email addresses for the user."), &["work", "home", "other"], "'work' or 'home'")
                .desc("Email addresses for the user."),
            multi_valued("phoneNumbers", string("value").desc("Phone number of the User."), &["work", "home", "mobile", "fax", "pager", "other"], "'work', 'home', 'mobile'")
                .desc("Phone numbers for the User."),
            multi_valued("ims", string("value").desc("Instant messaging address for the User."), &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"], "'aim', 'gtalk', 'xmpp'")
                .desc("Instant messaging addresses for the User."),
            multi_valued("photos", reference("value", &["external"]).desc("URL of a photo of the User."), &["photo", "thumbnail"], "'photo' or 'thumbnail'")
                .desc("URLs of photos of the User."),
            addresses,
            groups,
            multi_valued("entitlements", string("value").desc("The value of an entitlement."), &[], "an entitlement type")
                .desc("A list of entitlements for the User that represent a thing the User has."),
            multi_valued("roles", string("value").desc("The value of a role."), &[], "a role type")
                .desc("A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'."),
            x509,
        ],
    }
}

/// The core Group schema, `urn:ietf:params:scim:schemas:core:2.0:Group`.
pub(crate) fn core_group() -> Schema {
    Schema {
        id: GROUP_SCHEMA.to_string(),
        name: "Group".to_string(),
        description: "Group".to_string(),
        attributes: vec![
            string("displayName")
                .required()
                .unique(Uniqueness::Server)
                .desc("A human-readable name for the Group. REQUIRED."),
            complex(
                "members",
                vec![
                    string("value")
                        .mutability(Mutability::Immutable)
                        .desc("Identifier of the member of this Group."),
                    reference("$ref", &["User", "Group"])
                        .mutability(Mutability::Immutable)
                        .desc("The URI corresponding to a SCIM resource that is a member of this Group."),
                    // Not in the RFC 7643 §8.7.1 schema, but in its §8.4
                    // example and sent by IdPs: kept as the client sends it.
                    string("display")
                        .desc("A human-readable name, primarily used for display purposes."),
                    string("type")
                        .canonical(&["User", "Group"])
                        .mutability(Mutability::Immutable)
                        .desc("A label indicating the type of resource, e.g., 'User' or 'Group'."),
                ],
            )
            .multi()
            .desc("A list of members of the Group."),
        ],
    }
}

/// The Enterprise User extension,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
pub(crate) fn enterprise_user() -> Schema {
    Schema {
        id: ENTERPRISE_USER_SCHEMA.to_string(),
        name: "EnterpriseUser".to_string(),
        description: "Enterprise User".to_string(),
        attributes: vec![
            string("employeeNumber").desc("Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."),
            string("costCenter").desc("Identifies the name of a cost center."),
            string("organization").desc("Identifies the name of an organization."),
            string("division").desc("Identifies the name of a division."),
            string("department").desc("Identifies the name of a department."),
            complex(
                "manager",
                vec![
                    string("value").desc("The id of the SCIM resource representing the User's manager."),
                    reference("$ref", &["User"]).desc("The URI of the SCIM resource representing the User's manager."),
                    string("displayName")
                        .mutability(Mutability::ReadOnly)
                        .desc("The displayName of the User's manager."),
                ],
            )
            .desc("The User's manager."),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_matches_rfc_characteristics() {
        let u = core_user();
        let user_name = u.attribute("USERNAME").map(|a| (a.required, a.uniqueness));
        assert_eq!(user_name, Some((true, Uniqueness::Server)));
        let pw = u.attribute("password").map(|a| (a.mutability, a.returned));
        assert_eq!(pw, Some((Mutability::WriteOnly, Returned::Never)));
        let groups = u
            .attribute("groups")
            .map(|a| (a.mutability, a.multi_valued));
        assert_eq!(groups, Some((Mutability::ReadOnly, true)));
        let given = u
            .attribute("name")
            .and_then(|n| n.sub_attribute("givenname"));
        assert!(given.is_some());
    }

    #[test]
    fn builtin_schemas_survive_their_own_json() {
        for s in [core_user(), core_group(), enterprise_user()] {
            let back = Schema::from_json(&s.to_json("http://x/Schemas")).ok();
            assert_eq!(back.as_ref(), Some(&s), "{}", s.id);
        }
    }
}
