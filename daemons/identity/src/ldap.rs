//! Reading an outside LDAP directory (OpenLDAP, Active Directory, …) with `ldap3`: the
//! service account's bind, the user and group searches of a sync, and password checks by
//! binding as the user ("search, then bind").

use std::collections::HashMap;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};

use crate::model::{DirectorySettings, DirectorySnapshot, ExternalGroup, ExternalUser};

/// Each connection and each operation gets this long.
const TIMEOUT: Duration = Duration::from_secs(10);

/// LDAP result code 49: wrong DN or password.
const INVALID_CREDENTIALS: u32 = 49;

/// Why the directory could not be read; the text is shown to administrators.
pub type LdapFailure = String;

async fn connect(s: &DirectorySettings) -> Result<Ldap, LdapFailure> {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(TIMEOUT)
        .set_starttls(s.starttls);
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &s.url)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", s.url))?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// Connects and binds as the service account.
async fn service(s: &DirectorySettings, password: &str) -> Result<Ldap, LdapFailure> {
    if password.is_empty() {
        // An empty password makes a simple bind anonymous, which "succeeds" and reads
        // nothing useful; refuse it outright.
        return Err("the bind password is empty".into());
    }
    let mut ldap = connect(s).await?;
    ldap.with_timeout(TIMEOUT)
        .simple_bind(&s.bind_dn, password)
        .await
        .and_then(|r| r.success())
        .map_err(|e| format!("the directory refused the bind as {}: {e}", s.bind_dn))?;
    Ok(ldap)
}

/// Checks that the service account can bind; nothing is read.
pub async fn check(s: &DirectorySettings, password: &str) -> Result<(), LdapFailure> {
    let mut ldap = service(s, password).await?;
    let _ = ldap.unbind().await;
    Ok(())
}

/// The entry's stable id: entryUUID (OpenLDAP and most servers), objectGUID (Active
/// Directory, binary, written as hex), or else its DN.
fn external_id(e: &SearchEntry) -> String {
    if let Some(id) = first(&e.attrs, "entryUUID") {
        return id.to_ascii_lowercase();
    }
    // ldap3 files a binary value that happens to be valid UTF-8 under the text attributes.
    let guid = e
        .bin_attrs
        .get("objectGUID")
        .and_then(|v| v.first().cloned())
        .or_else(|| {
            e.attrs
                .get("objectGUID")
                .and_then(|v| v.first())
                .map(|s| s.as_bytes().to_vec())
        });
    if let Some(guid) = guid {
        return guid.iter().map(|b| format!("{b:02x}")).collect();
    }
    normalize_dn(&e.dn)
}

/// The first value of `attr`, attribute names compared without case as LDAP does.
fn first<'a>(attrs: &'a HashMap<String, Vec<String>>, attr: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first())
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn all<'a>(attrs: &'a HashMap<String, Vec<String>>, attr: &str) -> &'a [String] {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map_or(&[], |(_, v)| v.as_slice())
}

/// DNs compare without case and without spaces after commas (`uid=a, dc=x` = `uid=a,dc=x`).
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|part| part.trim().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

async fn search(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attrs: &[&str],
) -> Result<Vec<SearchEntry>, LdapFailure> {
    let (entries, _) = ldap
        .with_timeout(TIMEOUT)
        .search(base, Scope::Subtree, filter, attrs.to_vec())
        .await
        .and_then(|r| r.success())
        .map_err(|e| format!("searching {base} for {filter} failed: {e}"))?;
    Ok(entries.into_iter().map(SearchEntry::construct).collect())
}

fn user_from(s: &DirectorySettings, e: &SearchEntry) -> Option<ExternalUser> {
    Some(ExternalUser {
        external_id: external_id(e),
        dn: e.dn.clone(),
        email: first(&e.attrs, &s.email_attribute)?.to_owned(),
        name: first(&e.attrs, &s.name_attribute)
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Reads every user (and, with a group base, every group) the settings select. Users
/// without an e-mail address are returned with an empty one, for the sync to report.
pub async fn snapshot(
    s: &DirectorySettings,
    password: &str,
) -> Result<DirectorySnapshot, LdapFailure> {
    let mut ldap = service(s, password).await?;
    let user_attrs = [
        "entryUUID",
        "objectGUID",
        s.email_attribute.as_str(),
        s.name_attribute.as_str(),
    ];
    let users = search(&mut ldap, &s.user_base, &s.user_filter, &user_attrs)
        .await?
        .iter()
        .map(|e| {
            user_from(s, e).unwrap_or_else(|| ExternalUser {
                external_id: external_id(e),
                dn: e.dn.clone(),
                email: String::new(),
                name: String::new(),
            })
        })
        .collect();
    let mut groups = Vec::new();
    if !s.group_base.trim().is_empty() {
        let group_attrs = ["entryUUID", "objectGUID", "cn", s.member_attribute.as_str()];
        for e in search(&mut ldap, &s.group_base, &s.group_filter, &group_attrs).await? {
            groups.push(ExternalGroup {
                external_id: external_id(&e),
                name: first(&e.attrs, "cn").unwrap_or(&e.dn).to_owned(),
                member_dns: all(&e.attrs, &s.member_attribute).to_vec(),
            });
        }
    }
    let _ = ldap.unbind().await;
    Ok(DirectorySnapshot {
        users,
        groups,
        unusable: Vec::new(),
    })
}

/// Checks a user's password by binding as them, after finding their entry by e-mail with
/// the service account. `Ok(None)`: no such entry, or the directory refused the password.
pub async fn authenticate(
    s: &DirectorySettings,
    service_password: &str,
    email: &str,
    external_id: &str,
    password: &str,
) -> Result<Option<ExternalUser>, LdapFailure> {
    if password.is_empty() {
        // An empty password would make the bind anonymous, and "succeed".
        return Ok(None);
    }
    let mut ldap = service(s, service_password).await?;
    let filter = format!(
        "(&{}({}={}))",
        s.user_filter,
        s.email_attribute,
        ldap_escape(email)
    );
    let attrs = [
        "entryUUID",
        "objectGUID",
        s.email_attribute.as_str(),
        s.name_attribute.as_str(),
    ];
    let found = search(&mut ldap, &s.user_base, &filter, &attrs).await?;
    let _ = ldap.unbind().await;
    let [entry] = found.as_slice() else {
        return Ok(None);
    };
    let Some(user) = user_from(s, entry) else {
        return Ok(None);
    };
    // The entry that has this address now must be the one the account was synced from:
    // after a swap or a reused address, another person's password must not open it.
    if user.external_id != external_id {
        return Ok(None);
    }
    let mut as_user = connect(s).await?;
    let outcome = as_user
        .with_timeout(TIMEOUT)
        .simple_bind(&user.dn, password)
        .await
        .map_err(|e| format!("binding as {} failed: {e}", user.dn))?;
    let _ = as_user.unbind().await;
    match outcome.rc {
        0 => Ok(Some(user)),
        INVALID_CREDENTIALS => Ok(None),
        rc => Err(format!(
            "the directory answered {rc} ({}) to the bind as {}",
            outcome.text, user.dn
        )),
    }
}
