//! `lading refresh warehouse NAME -p PROJECT`.

use crate::cli::{RefreshArgs, Refreshable};
use crate::client::Client;

pub async fn run(client: &Client, args: RefreshArgs) -> anyhow::Result<()> {
    match args.kind {
        Refreshable::Warehouse => {
            let path = format!("/api/v1/projects/{}/warehouses/{}/refresh", args.project, args.name);
            client.post(&path, String::new()).await?;
            println!("warehouse/{} refresh requested", args.name);
        }
    }
    Ok(())
}
