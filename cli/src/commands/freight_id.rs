//! `lading freight id [-f FILE]`: a freight's ID, offline.

use std::path::{Path, PathBuf};

use anyhow::bail;
use lading_domain::{Freight, freight_id};
use serde_json::Value;

use super::read_input;

/// Work with freight offline.
#[derive(Debug, clap::Args)]
pub struct FreightArgs {
    #[command(subcommand)]
    pub command: FreightCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FreightCommand {
    /// Print the ID (name) of a freight, computed as Kargo computes it.
    ///
    /// Reads a Freight (YAML or JSON, Kargo's fields: origin, commits, images, charts);
    /// the same artifacts always get the same ID.
    ///
    ///   lading freight id -f freight.yaml
    ///   lading get freight brave-otter -o yaml | lading freight id
    #[command(verbatim_doc_comment)]
    Id {
        /// File to read; `-` or none reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: Option<PathBuf>,
    },
}

/// Computes the ID of the freight described by `text` (YAML or JSON).
pub fn compute(text: &str) -> anyhow::Result<String> {
    let mut value: Value = match serde_saphyr::from_str(text) {
        Ok(value) => value,
        Err(error) => bail!("the input is not YAML or JSON: {error}"),
    };
    let Value::Object(map) = &mut value else {
        bail!("the input must be a Freight: a mapping with origin, commits, images and charts");
    };
    // Status (where the freight is) does not take part in its identity.
    map.remove("status");
    let freight: Freight = match lading_domain::spec::deserialize_at("", value) {
        Ok(freight) => freight,
        Err(error) => bail!("{}: {}", error.field, error.reason),
    };
    Ok(freight_id::compute(&freight)?.to_string())
}

pub fn run(args: FreightArgs) -> anyhow::Result<()> {
    let FreightCommand::Id { file } = args.command;
    print_id(file.as_deref())
}

fn print_id(file: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", compute(&read_input(file)?)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KARGO_FREIGHT: &str = r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata:
  name: whatever
  namespace: demo
alias: brave-otter
origin:
  kind: Warehouse
  name: my-warehouse
commits:
- repoURL: https://github.com/example/app.git
  id: 1234567890abcdef1234567890abcdef12345678
images:
- repoURL: nginx
  tag: 1.27.0
  digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
status:
  verifiedIn:
    test: {}
"#;

    #[test]
    fn computes_the_kargo_id_from_a_kargo_freight() {
        assert_eq!(compute(KARGO_FREIGHT).unwrap(), "1edc32a855f4aceead43bf3774b7fdd88bb48a79");
    }

    #[test]
    fn json_works_too() {
        let json = r#"{"origin": {"kind": "Warehouse", "name": "w"}, "images": [{"repoURL": "nginx", "tag": "1"}]}"#;
        assert_eq!(compute(json).unwrap().len(), 40);
    }

    #[test]
    fn bad_input_names_the_field() {
        let wrong_type = "origin: {kind: Warehouse, name: w}\ncommits: [{repoURL: https://h/x, id: [1]}]\n";
        let error = compute(wrong_type).unwrap_err().to_string();
        assert!(error.starts_with("commits[0].id: "), "{error}");
        let missing = "origin: {kind: Warehouse, name: w}\ncommits: [{repoURL: https://h/x}]\n";
        assert_eq!(compute(missing).unwrap_err().to_string(), "commits[0].id: is required");
        assert!(compute("- a list").unwrap_err().to_string().contains("must be a Freight"));
        assert!(compute("a: [").unwrap_err().to_string().contains("not YAML"));
    }
}
