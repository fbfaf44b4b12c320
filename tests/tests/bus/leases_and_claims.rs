//! Leases (one holder, renewals, hand-over) and promotion claims taken by revision.

use super::*;

#[tokio::test]
async fn a_lease_has_one_holder_until_released() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let mut lease = bus.try_lease("promotion.demo.test", "a").await.unwrap().expect("free lease");
    assert!(bus.try_lease("promotion.demo.test", "b").await.unwrap().is_none());
    lease.renew().await.unwrap();
    lease.release().await;
    assert!(bus.try_lease("promotion.demo.test", "b").await.unwrap().is_some());
}

#[tokio::test]
async fn a_replica_asking_again_for_a_lease_it_gave_up_takes_it_only_when_free() {
    // Given a replica that gave a lease up (it knows the revision its release left),
    let nats = TestNats::start().await;
    let (one, two) = (nats.bus("one").await, nats.bus("two").await);
    let key = "promotion.demo.again";
    one.try_lease(key, "a").await.unwrap().expect("free lease").release().await;
    // when another replica took it since, the first does not get it;
    let held = two.try_lease(key, "b").await.unwrap().expect("free after the release");
    assert!(one.try_lease(key, "a").await.unwrap().is_none());
    // once that one gave it up too, the first takes it, and holds it alone;
    held.release().await;
    let again = one.try_lease(key, "a").await.unwrap().expect("free again");
    assert!(two.try_lease(key, "b").await.unwrap().is_none());
    // and right after its own release it takes it again, still alone.
    again.release().await;
    let _mine = one.try_lease(key, "a").await.unwrap().expect("taken again after its own release");
    assert!(two.try_lease(key, "b").await.unwrap().is_none());
    assert!(one.try_lease(key, "c").await.unwrap().is_none());
}

#[tokio::test]
async fn an_abort_and_a_resuming_run_racing_for_a_parked_claim_take_it_once() {
    use lading_bus::claims::Claim;
    use lading_domain::promotion_claim::Held;
    // Given two connections, and promotions parked after their push,
    let nats = TestNats::start().await;
    let (api, runner) = (nats.bus("api").await, nats.bus("runner").await);
    let abort = Claim::Aborted { actor: "admin".to_owned(), reason: "aborted by admin".to_owned() };
    for round in 0..30 {
        let promotion = format!("prod.{round}");
        assert_eq!(runner.claim_promotion("demo", &promotion, &Claim::Committed).await.unwrap(), Claim::Committed);
        let parked = runner.replace_claim("demo", &promotion, Held::Committed, &Claim::Parked).await.unwrap();
        assert_eq!(parked, Some(Claim::Parked));
        // when an abort and the run that looks again replace it at once,
        let (aborted, resumed) = tokio::join!(
            api.replace_claim("demo", &promotion, Held::Parked, &abort),
            runner.replace_claim("demo", &promotion, Held::Parked, &Claim::Committed)
        );
        // then both see the one claim that holds, and it is one of theirs.
        let (aborted, resumed) = (aborted.unwrap(), resumed.unwrap());
        assert_eq!(aborted, resumed, "round {round}");
        assert!(aborted == Some(abort.clone()) || aborted == Some(Claim::Committed), "round {round}: {aborted:?}");
    }
    // And a claim that is not parked is left as it is.
    assert_eq!(runner.claim_promotion("demo", "running", &Claim::Committed).await.unwrap(), Claim::Committed);
    let refused = api.replace_claim("demo", "running", Held::Parked, &abort).await.unwrap();
    assert_eq!(refused, Some(Claim::Committed));
    assert_eq!(api.replace_claim("demo", "unclaimed", Held::Parked, &abort).await.unwrap(), None);
}

#[tokio::test]
async fn a_renewal_stored_without_an_answer_leaves_the_lease_with_its_holder() {
    // Given a held lease whose renewal was stored but never answered (its revision moved
    // on with the holder's own name),
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let key = "promotion.demo.unanswered";
    let mut lease = bus.try_lease(key, "a").await.unwrap().expect("free lease");
    let store = bus.jetstream().get_key_value(lading_bus::names::LEASES_BUCKET).await.unwrap();
    store.put(key, "a".into()).await.unwrap();
    // when its holder renews it, then it is still the holder's;
    lease.renew().await.expect("the holder's own renewal");
    assert!(bus.try_lease(key, "b").await.unwrap().is_none());
    // but once another holder wrote the key, the lease is lost.
    store.put(key, "b".into()).await.unwrap();
    assert!(matches!(lease.renew().await, Err(lading_bus::lease::RenewError::Lost(_))));
}

#[tokio::test]
async fn a_lease_given_up_is_seen_by_its_watcher_before_or_while_it_watches() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let key = "promotion.demo.watched";
    // Given a held lease, a watcher sees it still held when its time is up;
    let lease = bus.try_lease(key, "a").await.unwrap().expect("free lease");
    assert!(!bus.lease_given_up(key, Duration::from_millis(200)).await.unwrap());
    // one watching while it is given up sees that,
    let (given_up, ()) = tokio::join!(bus.lease_given_up(key, Duration::from_secs(30)), lease.release());
    assert!(given_up.unwrap());
    // and so does one that begins watching after it was given up.
    assert!(bus.lease_given_up(key, Duration::from_secs(30)).await.unwrap());
}

#[tokio::test]
async fn replicas_racing_for_a_given_up_lease_take_it_once() {
    // Given two replicas, each on its own connection, and a lease given up (its key holds
    // a delete marker),
    let nats = TestNats::start().await;
    let (one, two) = (nats.bus("one").await, nats.bus("two").await);
    let key = "promotion.demo.race";
    for round in 0..30 {
        if let Some(lease) = one.try_lease(key, "setup").await.unwrap() {
            lease.release().await;
        }
        // when both ask for it at once,
        let (a, b) = tokio::join!(one.try_lease(key, "a"), two.try_lease(key, "b"));
        let (a, b) = (a.unwrap(), b.unwrap());
        // then exactly one holds it.
        assert!(a.is_some() != b.is_some(), "round {round}: a {} b {}", a.is_some(), b.is_some());
        for lease in [a, b].into_iter().flatten() {
            lease.release().await;
        }
    }
}
