//! The conditions a benchmark ran under, printed beside its figures.

/// Cores, the load average and the build profile, e.g.
/// `2 cores, load average 12.1 11.9 11.4, optimized build`.
pub fn conditions() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned());
    let build = if cfg!(debug_assertions) { "unoptimized (dev profile) build" } else { "optimized build" };
    format!("{cores} cores, load average {load}, {build}")
}
