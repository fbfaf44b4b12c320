//! `lading apply -f FILE`.

use serde_json::Value;

use super::read_input;
use crate::cli::ApplyArgs;
use crate::client::Client;

pub async fn run(client: &Client, args: ApplyArgs) -> anyhow::Result<()> {
    let body = read_input(Some(&args.file))?;
    let response = client.post("/api/v1/apply", body).await?;
    for result in response.get("results").and_then(Value::as_array).into_iter().flatten() {
        let text = |k: &str| result.get(k).and_then(Value::as_str).unwrap_or_default();
        println!("{}/{} {}", text("kind").to_lowercase(), text("name"), text("action"));
    }
    Ok(())
}
