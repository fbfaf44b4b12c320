//! `lading crds`: Lading's CustomResourceDefinitions, for `kubectl apply -f -`.

/// Print Lading's CustomResourceDefinitions (group lading.dev, version v1alpha1) as YAML.
///
///   lading crds | kubectl apply -f -
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CrdsArgs {}

pub fn run(_args: CrdsArgs) -> anyhow::Result<()> {
    print!("{}", lading_api::kubernetes::crds::crds_yaml());
    Ok(())
}
