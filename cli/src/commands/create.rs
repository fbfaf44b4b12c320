//! `lading create freight -p PROJECT --warehouse W [--commit …] [--image …] [--chart …]`.

use serde_json::{Value, json};

use crate::cli::CreateFreightArgs;
use crate::client::Client;

/// Splits `[REPO_URL=]VALUE` at its last `=`.
fn pick(text: &str, field: &str) -> Value {
    match text.rsplit_once('=') {
        Some((repo, value)) => json!({"repoURL": repo, field: value}),
        None => json!({ field: text }),
    }
}

/// The request body for the picks.
pub fn body(args: &CreateFreightArgs) -> Value {
    json!({
        "warehouse": args.warehouse,
        "commits": args.commits.iter().map(|c| pick(c, "id")).collect::<Vec<_>>(),
        "images": args.images.iter().map(|i| pick(i, "tag")).collect::<Vec<_>>(),
        "charts": args.charts.iter().map(|c| pick(c, "version")).collect::<Vec<_>>(),
    })
}

pub async fn freight(client: &Client, args: CreateFreightArgs) -> anyhow::Result<()> {
    let path = format!("/api/v1/projects/{}/freight", args.project);
    let reply = client.post_json(&path, &body(&args)).await?;
    let name = reply["name"].as_str().unwrap_or_default();
    let alias = reply["alias"].as_str().unwrap_or_default();
    if reply["created"].as_bool().unwrap_or(false) {
        println!("freight/{name} ({alias}) created");
    } else {
        println!("freight/{name} ({alias}) already exists");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_name_their_repository_when_given() {
        let args = CreateFreightArgs {
            warehouse: "app".into(),
            commits: vec!["v1.0.0".into()],
            images: vec!["127.0.0.1:5000/app=1.2.0".into()],
            charts: vec!["https://charts.example.com=0.9.0".into()],
            project: "demo".into(),
        };
        assert_eq!(
            body(&args),
            json!({
                "warehouse": "app",
                "commits": [{"id": "v1.0.0"}],
                "images": [{"repoURL": "127.0.0.1:5000/app", "tag": "1.2.0"}],
                "charts": [{"repoURL": "https://charts.example.com", "version": "0.9.0"}],
            })
        );
    }
}
