//! Image repository references as Docker reads them (`nginx` is Docker Hub's
//! `library/nginx`; a first component with a dot, a port or `localhost` is a registry),
//! and whether to speak plain HTTP to them.

/// An image repository: where it lives and its name there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]` (Docker Hub is `registry-1.docker.io`).
    pub host: String,
    /// The repository name (`library/nginx`).
    pub name: String,
}

impl Repository {
    /// Reads an image `repoURL` (`nginx`, `ghcr.io/org/app`, `127.0.0.1:5000/app`).
    pub fn parse(repo_url: &str, insecure: bool) -> Result<Self, String> {
        let url = repo_url.trim().trim_end_matches('/');
        let (first, rest) = url.split_once('/').unwrap_or(("", url));
        let is_host = first.contains(['.', ':']) || first == "localhost";
        let (host, name) = if is_host { (first, rest.to_owned()) } else { ("docker.io", url.to_owned()) };
        let (host, name) = match host {
            "docker.io" | "index.docker.io" => {
                let name = if name.contains('/') { name } else { format!("library/{name}") };
                ("registry-1.docker.io".to_owned(), name)
            }
            other => (other.to_owned(), name),
        };
        if name.is_empty() {
            return Err(format!("{repo_url:?} names no repository"));
        }
        let scheme = if insecure || is_loopback(&host) { "http" } else { "https" };
        Ok(Self { scheme, host, name })
    }

    pub(super) fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    pub(super) fn scope(&self) -> String {
        format!("repository:{}:pull", self.name)
    }

    pub(super) fn describe(&self) -> String {
        format!("{}/{}", self.host, self.name)
    }
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| if port.parse::<u16>().is_ok() { h } else { host });
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_read_like_docker_reads_them() {
        let hub = Repository::parse("nginx", false).unwrap();
        assert_eq!(
            (hub.scheme, hub.host.as_str(), hub.name.as_str()),
            ("https", "registry-1.docker.io", "library/nginx")
        );
        let ghcr = Repository::parse("ghcr.io/org/app", false).unwrap();
        assert_eq!((ghcr.host.as_str(), ghcr.name.as_str()), ("ghcr.io", "org/app"));
        let local = Repository::parse("127.0.0.1:5000/team/app", false).unwrap();
        assert_eq!((local.scheme, local.host.as_str()), ("http", "127.0.0.1:5000"));
        assert_eq!(Repository::parse("localhost:5000/app", false).unwrap().scheme, "http");
        assert_eq!(Repository::parse("registry.internal/app", true).unwrap().scheme, "http");
        assert_eq!(Repository::parse("docker.io/org/app", false).unwrap().name, "org/app");
    }
}
