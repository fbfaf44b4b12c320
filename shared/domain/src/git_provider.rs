//! Which Git hosting provider a repository's host is, as Kargo tells it, for the
//! pull-request steps: a configured provider wins, then the hosts Kargo knows by name,
//! then a table of hosts (`LADING_GIT_PROVIDERS`), then a host that names its product.

use std::collections::BTreeMap;

/// The providers the pull-request steps speak to, by name.
pub const PROVIDERS: [&str; 5] = ["azure", "bitbucket", "gitea", "github", "gitlab"];

/// The provider of `host` (`host[:port]`): `configured` when set, else Kargo's rules
/// (`github.com`; `bitbucket.org`; `dev.azure.com`, `*.visualstudio.com`), else the
/// provider `table` names for the host (with or without its port), else a host with a
/// `gitlab` label (or `gitlab.com`) or containing `gitea`; `None` when nothing tells.
pub fn provider_of<'a>(
    host: &str,
    configured: Option<&'a str>,
    table: &'a BTreeMap<String, String>,
) -> Option<&'a str> {
    if configured.is_some() {
        return configured;
    }
    let bare = host.split(':').next().unwrap_or_default();
    match bare {
        "github.com" => return Some("github"),
        "bitbucket.org" => return Some("bitbucket"),
        "dev.azure.com" => return Some("azure"),
        _ if bare.ends_with(".visualstudio.com") => return Some("azure"),
        _ => {}
    }
    if let Some(name) = table.get(host).or_else(|| table.get(bare)) {
        return Some(name);
    }
    if bare == "gitlab.com" || bare.split('.').any(|label| label == "gitlab") {
        return Some("gitlab");
    }
    bare.contains("gitea").then_some("gitea")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_hosts_when_told_then_kargos_rules_come_before_the_table_and_names_after_it() {
        let table = BTreeMap::from([
            ("git.example.com".to_owned(), "gitlab".to_owned()),
            ("127.0.0.1:8080".to_owned(), "gitea".to_owned()),
            ("github.com".to_owned(), "gitlab".to_owned()),
        ]);
        let of = |host: &str| provider_of(host, None, &table);
        assert_eq!(of("github.com"), Some("github"), "Kargo's own hosts win over the table");
        assert_eq!(of("bitbucket.org"), Some("bitbucket"));
        assert_eq!(of("dev.azure.com"), Some("azure"));
        assert_eq!(of("contoso.visualstudio.com"), Some("azure"));
        assert_eq!(of("git.example.com"), Some("gitlab"));
        assert_eq!(of("git.example.com:443"), Some("gitlab"), "listed without its port");
        assert_eq!(of("127.0.0.1:8080"), Some("gitea"), "listed with its port");
        assert_eq!(of("gitlab.internal"), Some("gitlab"));
        assert_eq!(of("code.gitea.io"), Some("gitea"));
        assert_eq!(of("mygitlab.example.com"), None, "a label must be gitlab itself");
        assert_eq!(of("git.other.com"), None);
        assert_eq!(provider_of("github.com", Some("gitea"), &table), Some("gitea"), "configured wins");
    }
}
