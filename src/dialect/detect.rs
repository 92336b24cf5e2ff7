//! `idp_profile = "auto"`: which IdP sent a request, from its User-Agent,
//! the issuer of its bearer token and its query flags.
//!
//! Evidence, strongest first:
//!
//! 1. The token issuer (`iss`), checked by authentication before this runs.
//!    Entra ID issues `https://sts.windows.net/{tenant}/` (v1) and
//!    `https://login.microsoftonline.com/{tenant}/v2.0` (v2); Microsoft's
//!    "Tutorial: Develop and plan provisioning for a SCIM endpoint" names
//!    `"iss":"https://sts.windows.net/12345678-.../"` as the issuer of the
//!    provisioning service's own token. Okta org and custom authorization
//!    servers issue `https://{org}.okta.com[/oauth2/{id}]` (also
//!    `oktapreview.com` and `okta-emea.com` orgs).
//! 2. The `aadOptscim062020` query flag, which only Entra's provisioning
//!    service is told to send ("Known issues and resolutions with SCIM 2.0
//!    protocol compliance of the Microsoft Entra user provisioning
//!    service", section "Flags to alter the SCIM behavior").
//! 3. The User-Agent. Okta documents it in every request of its "SCIM 2.0
//!    Protocol Reference": `User-Agent: Okta SCIM Client 1.0.0`. Microsoft
//!    does not document Entra's; clients in the wild match Microsoft's SCIM
//!    client by `Azure AD` / `Microsoft` together with `SCIM` (for example
//!    `Microsoft Azure AD SCIM provisioning 1.0.0`, `Microsoft.AzureAD.SCIM`),
//!    so those substrings are matched, ignoring case, rather than one exact
//!    string; a name of the directory itself (`Azure AD`, `AzureAD`,
//!    `Entra`) with `provisioning` counts too.
//!
//! The issuer is known only once authentication verified a token: the
//! pipeline resolves `auto` from the User-Agent and the query first (for
//! the `Authorization` header fix, which must come before
//! authentication), and again with the issuer after it, for the query and
//! the body. Entra sends its own token only when the tenant's "Secret
//! Token" field is left blank ("Tutorial: Develop and plan provisioning for
//! a SCIM endpoint"); with a secret token, no flag in the tenant URL and a
//! User-Agent none of the above matches, nothing tells Entra apart, and
//! `auto` gives the generic rules: name the profile (`entra`) then.
//!
//! No evidence: [`Profile::Generic`].
use super::Profile;

/// The profile of the client that sent a request (for `auto`).
pub(crate) fn detect(
    user_agent: Option<&str>,
    token_issuer: Option<&str>,
    query: Option<&str>,
) -> Profile {
    if let Some(p) = token_issuer.and_then(profile_of_issuer) {
        return p;
    }
    if query.is_some_and(has_aad_flag) {
        return Profile::Entra;
    }
    user_agent
        .and_then(profile_of_user_agent)
        .unwrap_or(Profile::Generic)
}

fn profile_of_issuer(iss: &str) -> Option<Profile> {
    let host = host_of(iss)?;
    if host == "sts.windows.net" || host == "login.microsoftonline.com" {
        return Some(Profile::Entra);
    }
    let okta = ["okta.com", "oktapreview.com", "okta-emea.com"];
    okta.iter()
        .any(|d| {
            host.strip_suffix(d)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        })
        .then_some(Profile::Okta)
}

/// The lower-cased host of an `https://` URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])?;
    let end = rest.find(['/', ':', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// True when the query names the Entra compliance flag (with or without a
/// value, in any case).
pub(super) fn has_aad_flag(query: &str) -> bool {
    query
        .trim_start_matches('?')
        .split('&')
        .any(|pair| is_aad_flag(pair.split('=').next().unwrap_or(pair)))
}

/// `aadOptscim062020` opts in to the compliant PATCH behaviour;
/// `AzureAdScimPatch2017` opts back out. Both only steer Entra's client.
pub(super) fn is_aad_flag(key: &str) -> bool {
    key.eq_ignore_ascii_case("aadOptscim062020") || key.eq_ignore_ascii_case("AzureAdScimPatch2017")
}

fn profile_of_user_agent(ua: &str) -> Option<Profile> {
    let ua = ua.to_ascii_lowercase();
    if ua.contains("okta scim client") {
        return Some(Profile::Okta);
    }
    // Whole words: "Central Provisioning" is not Entra.
    let directory = ua.contains("azure ad")
        || ua
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "azuread" || w == "entra");
    let microsoft = directory || ua.contains("microsoft");
    let entra = microsoft && ua.contains("scim") || directory && ua.contains("provisioning");
    entra.then_some(Profile::Entra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_by_documented_user_agent() {
        assert_eq!(
            detect(Some("Okta SCIM Client 1.0.0"), None, None),
            Profile::Okta
        );
        assert_eq!(
            detect(Some("okta scim client 2.1"), None, None),
            Profile::Okta
        );
    }

    #[test]
    fn entra_by_user_agent_issuer_or_flag() {
        assert_eq!(
            detect(
                Some("Microsoft Azure AD SCIM provisioning 1.0.0"),
                None,
                None
            ),
            Profile::Entra
        );
        assert_eq!(
            detect(
                None,
                Some("https://sts.windows.net/12345678-0000-0000-0000-000000000000/"),
                None
            ),
            Profile::Entra
        );
        assert_eq!(
            detect(
                None,
                Some("https://login.microsoftonline.com/1234/v2.0"),
                None
            ),
            Profile::Entra
        );
        assert_eq!(
            detect(None, None, Some("aadOptscim062020&filter=x")),
            Profile::Entra
        );
        assert_eq!(
            detect(None, None, Some("?count=1&AADOPTSCIM062020=")),
            Profile::Entra
        );
    }

    #[test]
    fn entra_user_agents_seen_in_the_wild() {
        for ua in [
            "Microsoft.AzureAD.SCIM/1.0",
            "Azure AD SCIM Client",
            "AzureAD-Provisioning/2.0",
            "Microsoft Entra ID SCIM provisioning",
            "Microsoft Entra Provisioning Service",
        ] {
            assert_eq!(detect(Some(ua), None, None), Profile::Entra, "{ua}");
        }
        // Without the flag and the issuer, the User-Agent alone decides.
        assert_eq!(
            detect(Some("Microsoft.AzureAD.SCIM/1.0"), None, Some("count=1")),
            Profile::Entra
        );
        // Provisioning by another vendor, a Microsoft non-SCIM client.
        for ua in ["Acme Provisioning Agent/3", "Central Provisioning/1.2"] {
            assert_eq!(detect(Some(ua), None, None), Profile::Generic, "{ua}");
        }
        assert_eq!(
            detect(Some("Microsoft Office/16.0"), None, None),
            Profile::Generic
        );
    }

    #[test]
    fn okta_by_issuer_including_preview_and_custom_servers() {
        for iss in [
            "https://acme.okta.com",
            "https://acme.okta.com/oauth2/default",
            "https://acme.oktapreview.com/oauth2/aus1",
            "https://acme.okta-emea.com",
        ] {
            assert_eq!(detect(None, Some(iss), None), Profile::Okta, "{iss}");
        }
    }

    #[test]
    fn lookalikes_and_nothing_are_generic() {
        assert_eq!(detect(None, None, None), Profile::Generic);
        assert_eq!(
            detect(
                Some("curl/8.5.0"),
                Some("https://idp.example.com"),
                Some("count=2")
            ),
            Profile::Generic
        );
        // A host that merely ends in the same letters is not Okta's.
        assert_eq!(
            detect(None, Some("https://notokta.com/x"), None),
            Profile::Generic
        );
        assert_eq!(
            detect(None, Some("https://sts.windows.net.evil.example/"), None),
            Profile::Generic
        );
        assert_eq!(
            detect(None, Some("http://sts.windows.net/t/"), None),
            Profile::Generic
        );
        // A Microsoft client that is not a SCIM client.
        assert_eq!(
            detect(Some("Microsoft-PowerAutomate/1.0"), None, None),
            Profile::Generic
        );
        assert_eq!(
            detect(None, None, Some("filter=aadOptscim062020x")),
            Profile::Generic
        );
    }

    #[test]
    fn issuer_outranks_user_agent() {
        assert_eq!(
            detect(
                Some("Okta SCIM Client 1.0.0"),
                Some("https://sts.windows.net/t/"),
                None
            ),
            Profile::Entra
        );
        assert_eq!(
            detect(
                Some("Microsoft Azure AD SCIM provisioning"),
                Some("https://acme.okta.com"),
                Some("aadOptscim062020")
            ),
            Profile::Okta
        );
    }

    #[test]
    fn auto_resolves_and_concrete_profiles_stay() {
        assert_eq!(
            Profile::Auto.resolve(Some("Okta SCIM Client 1.0.0"), None, None),
            Profile::Okta
        );
        assert_eq!(
            Profile::Generic.resolve(Some("Okta SCIM Client 1.0.0"), None, None),
            Profile::Generic
        );
    }
}
