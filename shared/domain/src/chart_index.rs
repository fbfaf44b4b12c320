//! Reading a Helm chart repository's `index.yaml` within budgets that follow its size limit.

use serde::de::DeserializeOwned;

use crate::limits::Limit;

/// Fewest bytes of YAML per node (`- a\n`): the node budget follows the size limit.
const MIN_BYTES_PER_NODE: u64 = 3;

/// Chart indexes use no anchors or aliases; a few are tolerated, never an alias bomb.
const MAX_ALIASES: usize = 100;

/// Reads an `index.yaml` (already held within `limit`) as `T`: as many nodes as its bytes
/// can hold, one document, and next to no aliases.
pub fn parse<T: DeserializeOwned>(body: &str, limit: Limit<u64>) -> Result<T, String> {
    let nodes = usize::try_from(limit.value / MIN_BYTES_PER_NODE).unwrap_or(usize::MAX);
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = None;
    budget.max_events = nodes.saturating_mul(2);
    budget.max_nodes = nodes;
    budget.max_total_scalar_bytes = usize::try_from(limit.value).unwrap_or(usize::MAX);
    budget.max_documents = 1;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    budget.max_merge_keys = 0;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_ALIASES * 100;
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(body, options).map_err(|e| e.to_string())
}
