//! Messages shown to users name paths relative to a promotion's workspace, never the
//! host's directories: a message from Git or kustomize that names a path under a known
//! host directory is rewritten to name it relative to that directory.

/// `message` with every occurrence of the host directory `root` replaced: `root/a/b`
/// becomes `a/b`, and `root` alone becomes `replacement`. Roots that are empty or `/`
/// leave the message as it is.
pub fn relativize(message: &str, root: &str, replacement: &str) -> String {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return message.to_owned();
    }
    let nested = format!("{root}/");
    message.replace(&nested, "").replace(root, replacement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_path_under_the_root_when_relativized_then_it_is_workspace_relative() {
        let message = "could not find repository at '/tmp/work/.tmpAb12/out'";
        assert_eq!(relativize(message, "/tmp/work/.tmpAb12", "."), "could not find repository at 'out'");
    }

    #[test]
    fn given_the_root_itself_when_relativized_then_the_replacement_names_it() {
        assert_eq!(relativize("'/tmp/ws' is not empty", "/tmp/ws/", "."), "'.' is not empty");
        assert_eq!(relativize("fetching /var/mirrors/abc", "/var/mirrors/abc", "the mirror"), "fetching the mirror");
    }

    #[test]
    fn given_every_occurrence_when_relativized_then_none_is_left() {
        let out = relativize("/w/a and /w/b and /w", "/w", ".");
        assert_eq!(out, "a and b and .");
    }

    #[test]
    fn given_an_empty_or_filesystem_root_when_relativized_then_nothing_changes() {
        assert_eq!(relativize("/etc/x", "", "."), "/etc/x");
        assert_eq!(relativize("/etc/x", "/", "."), "/etc/x");
    }
}
