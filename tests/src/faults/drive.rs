//! Drives freight through the stages one at a time, aborting some promotions, and writes
//! down what each freight should have reached.

use std::time::Duration;

use serde_json::{Value, json};

use super::deployment::ApiClient;
use super::schedule::Schedule;
use crate::git::Repo;

pub const PROJECT: &str = "demo";
pub const STAGES: [&str; 3] = ["test", "uat", "prod"];

/// How long one freight may take through every stage, faults included.
const FREIGHT_DEADLINE: Duration = Duration::from_secs(240);

/// What became of an abort the driver asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbortOutcome {
    /// Accepted: the promotion must end `Aborted`, with no commit.
    Aborted,
    /// Refused (`409`) because the promotion had passed its point of no return or ended:
    /// it must end as if no abort was asked.
    Refused(String),
}

/// What one freight should have reached.
#[derive(Debug, Clone)]
pub struct Driven {
    pub index: usize,
    pub commit: String,
    pub freight: String,
    /// The stages it must be verified in, in order.
    pub expected_stages: Vec<&'static str>,
    /// The abort asked for: stage, promotion, outcome.
    pub abort: Option<(&'static str, String, AbortOutcome)>,
    pub took: Duration,
}

/// Why driving stopped early.
#[derive(Debug)]
pub struct Stuck {
    pub index: usize,
    pub what: String,
}

async fn freight_items(api: &ApiClient) -> Vec<Value> {
    let (status, body) = api.get(&format!("/api/v1/projects/{PROJECT}/freight")).await;
    if status != 200 {
        return Vec::new();
    }
    body["items"].as_array().cloned().unwrap_or_default()
}

async fn promotions_of(api: &ApiClient, stage: &str, freight: &str) -> Vec<Value> {
    let (status, body) = api.get(&format!("/api/v1/projects/{PROJECT}/promotions?stage={stage}")).await;
    if status != 200 {
        return Vec::new();
    }
    let items = body["items"].as_array().cloned().unwrap_or_default();
    items.into_iter().filter(|p| p["spec"]["freight"] == freight).collect()
}

/// Polls `check` every 100 ms until it gives `Some`, or returns the last observation
/// as an error after `deadline`.
async fn poll<T, F, Fut>(deadline: tokio::time::Instant, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    loop {
        let last = match check().await {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if tokio::time::Instant::now() > deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Commits freight `index` to the application, gets it discovered, maybe aborts one of
/// its promotions, and waits until it reached every stage it should.
pub async fn drive_one(api: &ApiClient, app: &Repo, index: usize, aborts: &mut Schedule) -> Result<Driven, Stuck> {
    let started = tokio::time::Instant::now();
    let deadline = started + FREIGHT_DEADLINE;
    let stuck = |what: String| Stuck { index, what };
    let commit = app.commit("app.txt", &format!("version {index}\n"), &format!("version {index}"));
    // The second freight is always aborted somewhere, so even a short run aborts.
    let abort_plan = aborts.abort_for_freight(&STAGES, index == 2);

    // Discovery: a refresh now, and again every few seconds (a warehouse replica may
    // die while handling it).
    let mut last_refresh: Option<tokio::time::Instant> = None;
    let freight = poll(deadline, || {
        let refresh_due = last_refresh.is_none_or(|at| at.elapsed() > Duration::from_secs(5));
        if refresh_due {
            last_refresh = Some(tokio::time::Instant::now());
        }
        let commit = commit.clone();
        async move {
            if refresh_due {
                api.post_json(&format!("/api/v1/projects/{PROJECT}/warehouses/app/refresh"), &json!({})).await;
            }
            let items = freight_items(api).await;
            items
                .iter()
                .find(|f| f["commits"][0]["id"] == commit.as_str())
                .and_then(|f| f["metadata"]["name"].as_str().map(str::to_owned))
                .ok_or_else(|| format!("{} freight, none of commit {commit}", items.len()))
        }
    })
    .await
    .map_err(|last| stuck(format!("freight of commit {commit} was not discovered: {last}")))?;

    let mut abort = None;
    let mut expected_stages = STAGES.to_vec();
    if let Some((stage, delay)) = abort_plan {
        let promotion = poll(deadline, || async {
            let found = promotions_of(api, stage, &freight).await;
            found
                .first()
                .and_then(|p| p["metadata"]["name"].as_str().map(str::to_owned))
                .ok_or_else(|| format!("no promotion of {freight} into {stage} yet"))
        })
        .await
        .map_err(|last| stuck(format!("freight {freight} was never promoted into {stage}: {last}")))?;
        tokio::time::sleep(delay).await;
        let (status, body) = api
            .post_json(&format!("/api/v1/projects/{PROJECT}/stages/{stage}/abort"), &json!({"promotion": promotion}))
            .await;
        let outcome = match status {
            200 => AbortOutcome::Aborted,
            // An abort sent again after an answer lost on the way (an api replica killed)
            // finds the promotion ended by the first one.
            409 if body.to_string().contains("already ended (Aborted)") => AbortOutcome::Aborted,
            409 => AbortOutcome::Refused(body.to_string()),
            other => return Err(stuck(format!("aborting {promotion}: {other} {body}"))),
        };
        if outcome == AbortOutcome::Aborted {
            let position = STAGES.iter().position(|s| *s == stage).unwrap();
            expected_stages.truncate(position);
        }
        abort = Some((stage, promotion, outcome));
    }

    // Done when verified in the last stage it should reach, and an accepted abort shows.
    let last_stage = expected_stages.last().copied();
    poll(deadline, || {
        let freight = freight.clone();
        let abort = abort.clone();
        async move {
            if let Some(stage) = last_stage {
                let items = freight_items(api).await;
                let item = items.iter().find(|f| f["metadata"]["name"] == freight.as_str());
                let verified = item.is_some_and(|f| f["status"]["verifiedIn"].get(stage).is_some());
                if !verified {
                    return Err(format!(
                        "not verified in {stage} yet: {}",
                        item.map(|f| f["status"].to_string()).unwrap_or_default()
                    ));
                }
            }
            if let Some((stage, promotion, AbortOutcome::Aborted)) = &abort {
                let found = promotions_of(api, stage, &freight).await;
                let phase = found.iter().find(|p| p["metadata"]["name"] == promotion.as_str());
                let phase = phase.map(|p| p["status"]["phase"].clone()).unwrap_or_default();
                if phase != "Aborted" {
                    return Err(format!("{promotion} is {phase} after its abort was accepted"));
                }
            }
            Ok(())
        }
    })
    .await
    .map_err(|last| stuck(format!("freight {freight} (commit {commit}) did not finish: {last}")))?;
    Ok(Driven { index, commit, freight, expected_stages, abort, took: started.elapsed() })
}
