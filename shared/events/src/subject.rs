//! NATS subjects. Events live under `lading.evt.<project>.<kind>.<name>.<type>`; their
//! public CloudEvents under `lading.pub.<project>.<kind>.<name>.<type>`; messages no
//! consumer could decode go to `lading.dlq.<consumer>`.

/// Every event subject.
pub const EVENTS_ALL: &str = "lading.evt.>";
/// Every dead-letter subject.
pub const DEAD_LETTERS_ALL: &str = "lading.dlq.>";

/// Every public CloudEvent subject.
pub const PUBLIC_ALL: &str = "lading.pub.>";

/// The public subject of one event.
pub fn public(project: &str, kind: &str, name: &str, event_type: &str) -> String {
    format!("lading.pub.{project}.{kind}.{name}.{event_type}")
}

/// Every public event of one project.
pub fn public_project(project: &str) -> String {
    format!("lading.pub.{project}.>")
}

/// The subject of one event.
pub fn event(project: &str, kind: &str, name: &str, event_type: &str) -> String {
    format!("lading.evt.{project}.{kind}.{name}.{event_type}")
}

/// Every event of `kind` and `event_type`, in every project.
pub fn filter(kind: &str, event_type: &str) -> String {
    format!("lading.evt.*.{kind}.*.{event_type}")
}

/// Every event of one project.
pub fn project_events(project: &str) -> String {
    format!("lading.evt.{project}.>")
}

/// Where a consumer puts messages it cannot decode or handle.
pub fn dead_letter(consumer: &str) -> String {
    format!("lading.dlq.{consumer}")
}

/// Splits an event subject into (project, kind, name, type).
pub fn parse(subject: &str) -> Option<(&str, &str, &str, &str)> {
    let mut tokens = subject.strip_prefix("lading.evt.")?.split('.');
    let parsed = (tokens.next()?, tokens.next()?, tokens.next()?, tokens.next()?);
    tokens.next().is_none().then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_project_kind_name_and_type() {
        let s = event("demo", "stage", "uat", "promotion-created");
        assert_eq!(s, "lading.evt.demo.stage.uat.promotion-created");
        assert_eq!(parse(&s), Some(("demo", "stage", "uat", "promotion-created")));
        assert_eq!(parse("lading.evt.a.b.c"), None);
        assert_eq!(parse("other.a.b.c.d"), None);
    }
}
