//! Names of the files `kustomize-build` writes into a directory, one per rendered
//! resource (`<kind>-<name>.yaml` and Kargo's two output formats), built only from characters that are safe in one file
//! name, so a resource can never name a path (no `/`, no `..`, nothing absolute).

/// The longest part (kind or name) kept in a file name; the whole name stays far below
/// the 255 bytes file systems allow.
const MAX_PART: usize = 100;

/// `kind` or `name` made safe for a file name: lowercase ASCII letters, digits, `-` and
/// `_`, and single dots after them (never first, last or doubled); every other character
/// becomes `_`. Empty when nothing usable is left.
pub fn file_name_part(text: &str) -> String {
    let mut part = String::with_capacity(text.len().min(MAX_PART));
    for c in text.chars().flat_map(char::to_lowercase) {
        if part.len() >= MAX_PART {
            break;
        }
        let safe = match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            // A dot only after a character that is not a dot: no `..`, no leading `.`.
            '.' if !part.is_empty() && !part.ends_with('.') => '.',
            _ => '_',
        };
        part.push(safe);
    }
    // A trailing dot would meet the next part's dot (`a.` + `.yaml`).
    let part = part.trim_end_matches('.');
    if part.chars().all(|c| c == '_') { String::new() } else { part.to_owned() }
}

/// The file for the `index`th rendered resource: `<kind>-<name>.yaml`, or
/// `resource-<index>.yaml` when the kind or the name has nothing usable.
pub fn resource_file_name(kind: &str, name: &str, index: usize) -> String {
    match (file_name_part(kind), file_name_part(name)) {
        (kind, name) if !kind.is_empty() && !name.is_empty() => format!("{kind}-{name}.yaml"),
        _ => format!("resource-{index}.yaml"),
    }
}

/// What a rendered resource is named by: its `apiVersion`, `kind`, `metadata.namespace`
/// and `metadata.name` (empty when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceId {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Kargo's `outputFormat: kargo` (its default): `[<namespace>-]<kind>-<name>.yaml`, or
/// `resource-<index>.yaml` when the kind or the name has nothing usable.
pub fn kargo_file_name(resource: &ResourceId, index: usize) -> String {
    let namespace = file_name_part(&resource.namespace);
    match resource_file_name(&resource.kind, &resource.name, index) {
        plain if namespace.is_empty() || plain.starts_with("resource-") => plain,
        plain => format!("{namespace}-{plain}"),
    }
}

/// Kargo's `outputFormat: kustomize`, kustomize's own naming:
/// `[<namespace>_]<group>_<version>_<kind>_<name>.yaml` (no group for the core API), the
/// namespace only when the resources span more than one; `resource-<index>.yaml` when
/// the kind or the name has nothing usable.
pub fn kustomize_file_name(resource: &ResourceId, several_namespaces: bool, index: usize) -> String {
    let (kind, name) = (file_name_part(&resource.kind), file_name_part(&resource.name));
    if kind.is_empty() || name.is_empty() {
        return format!("resource-{index}.yaml");
    }
    let mut parts: Vec<String> = Vec::new();
    if several_namespaces {
        parts.push(file_name_part(&resource.namespace));
    }
    parts.extend(resource.api_version.split('/').map(file_name_part));
    parts.push(kind);
    parts.push(name);
    parts.retain(|p| !p.is_empty());
    format!("{}.yaml", parts.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(api_version: &str, kind: &str, namespace: &str, name: &str) -> ResourceId {
        ResourceId {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn given_kargo_format_when_named_then_the_namespace_leads() {
        assert_eq!(kargo_file_name(&id("apps/v1", "Deployment", "prod", "web"), 0), "prod-deployment-web.yaml");
        assert_eq!(kargo_file_name(&id("v1", "Namespace", "", "prod"), 1), "namespace-prod.yaml");
        assert_eq!(kargo_file_name(&id("v1", "", "prod", "x"), 2), "resource-2.yaml");
    }

    #[test]
    fn given_kustomize_format_when_named_then_group_version_kind_name() {
        let deployment = id("apps/v1", "Deployment", "prod", "web");
        assert_eq!(kustomize_file_name(&deployment, false, 0), "apps_v1_deployment_web.yaml");
        assert_eq!(kustomize_file_name(&deployment, true, 0), "prod_apps_v1_deployment_web.yaml");
        assert_eq!(kustomize_file_name(&id("v1", "ConfigMap", "", "c"), true, 1), "v1_configmap_c.yaml");
        let climbing = kustomize_file_name(&id("../x/v1", "Kind", "", "../../n"), false, 3);
        assert!(is_one_plain_file_name(&climbing), "{climbing}");
    }

    fn is_one_plain_file_name(name: &str) -> bool {
        !name.is_empty()
            && !name.contains('/')
            && !name.contains('\\')
            && !name.contains("..")
            && !name.starts_with('.')
            && name.len() < 255
    }

    #[test]
    fn given_an_ordinary_resource_when_named_then_kind_and_name_are_lowercased() {
        assert_eq!(resource_file_name("Deployment", "guestbook", 0), "deployment-guestbook.yaml");
        assert_eq!(
            resource_file_name("CustomResourceDefinition", "widgets.example.com", 3),
            "customresourcedefinition-widgets.example.com.yaml"
        );
    }

    #[test]
    fn given_a_kind_that_climbs_out_when_named_then_the_name_stays_one_file() {
        let name = resource_file_name("../../x", "y", 0);
        assert!(name.ends_with("_x-y.yaml"), "{name}");
        assert!(is_one_plain_file_name(&name), "{name}");
        assert_ne!(name, "..-y.yaml");
    }

    #[test]
    fn given_an_absolute_kind_when_named_then_it_is_not_a_path() {
        let name = resource_file_name("/tmp/outside/evil", "x", 0);
        assert_eq!(name, "_tmp_outside_evil-x.yaml");
        assert!(is_one_plain_file_name(&name));
    }

    #[test]
    fn given_dots_and_separators_when_named_then_no_dot_run_or_leading_dot_remains() {
        for (kind, name) in [("..", ".."), ("...", "a...b"), (".hidden", "x"), ("a\\..\\b", "c"), ("a\0b", "c")] {
            let file = resource_file_name(kind, name, 7);
            assert!(is_one_plain_file_name(&file), "{kind:?} {name:?} gave {file:?}");
        }
    }

    #[test]
    fn given_nothing_usable_when_named_then_the_index_names_the_file() {
        assert_eq!(resource_file_name("", "x", 2), "resource-2.yaml");
        assert_eq!(resource_file_name("///", "x", 4), "resource-4.yaml");
        assert_eq!(resource_file_name("Service", "", 5), "resource-5.yaml");
    }

    #[test]
    fn given_a_very_long_name_when_named_then_the_file_name_stays_short() {
        let long = "a".repeat(10_000);
        let name = resource_file_name(&long, &long, 0);
        assert!(is_one_plain_file_name(&name), "{} bytes", name.len());
    }
}
