//! `attributes` / `excludedAttributes`, `sortBy` and error details.
use super::*;
use crate::scim::path::AttrPath;
use crate::scim::projection::Projection;
use crate::scim::ScimType;

fn paths(list: &[AttrPath]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

#[test]
fn attribute_lists_name_upstream_places() {
    let m = fixture("legacy-hr");
    let u = users(&m);
    let p = Projection::parse(
        Some("userName,name,emails.value,nickName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        Some("phoneNumbers,meta"),
    )
    .unwrap();
    let up = u.projection_to_upstream(&p);
    assert_eq!(
        paths(&up.attributes),
        ["login", "firstName", "lastName", "mail", "dept"]
    );
    assert_eq!(paths(&up.excluded), ["mobile", "meta"]);
    // Nothing left to ask for: ask for the id, never for everything.
    let only = Projection::parse(Some("nickName"), None).unwrap();
    assert_eq!(paths(&u.projection_to_upstream(&only).attributes), ["id"]);
}

#[test]
fn attribute_lists_keep_what_passes_through() {
    let m = fixture("crm-extension");
    let u = users(&m);
    let list = [
        AttrPath::parse("title").unwrap(),
        AttrPath::parse("emails").unwrap(),
        AttrPath::parse(super::ENTERPRISE).unwrap(),
    ];
    assert_eq!(
        paths(&u.attributes_to_upstream(&list)),
        [
            "urn:example:crm:2.0:User:jobTitle",
            "emails",
            "urn:example:crm:2.0:User:dept",
            "urn:example:crm:2.0:User:costCentre",
            super::ENTERPRISE,
        ]
    );
}

#[test]
fn sort_by_maps_to_one_upstream_attribute() {
    let m = fixture("legacy-hr");
    let u = users(&m);
    let sort = |s: &str| u.sort_by_to_upstream(&AttrPath::parse(s).unwrap());
    assert_eq!(sort("name.familyName").unwrap().to_string(), "lastName");
    // The primary email lives in mail.
    assert_eq!(sort("emails.value").unwrap().to_string(), "mail");
    assert_eq!(
        sort("meta.lastModified").unwrap().to_string(),
        "meta.lastModified"
    );
    let e = sort("nickName").unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidPath));
    assert!(e.detail().contains("nickName"));
    let pass = fixture("crm-extension");
    assert_eq!(
        users(&pass)
            .sort_by_to_upstream(&AttrPath::parse("displayName").unwrap())
            .unwrap()
            .to_string(),
        "displayName"
    );
}

#[test]
fn error_details_speak_tenant_names() {
    let m = fixture("legacy-hr");
    let u = users(&m);
    assert_eq!(
        u.error_detail_to_tenant("Field firstName is required; mail \"x\" is taken (mailbox ok)"),
        "Field name.givenName is required; emails[type eq \"work\"].value \"x\" is taken (mailbox ok)"
    );
    assert_eq!(
        u.error_detail_to_tenant("DEPT: unknown code"),
        format!("{ENTERPRISE}:department: unknown code")
    );
    assert_eq!(
        u.error_detail_to_tenant("x.mail and mail_2 stay"),
        "x.mail and mail_2 stay"
    );
    let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409", "scimType": "uniqueness", "detail": "login taken"});
    assert_eq!(
        m.error_to_tenant(&body, Some(u))["detail"],
        "userName taken"
    );
}
