//! Golden bytes: each published payload's encoding is frozen. If one of these fails, the change
//! broke the published contract: add a v2 type instead.

use super::*;
use crate::catalog::*;

const T: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const FREIGHT: &str = "1edc32a855f4aceead43bf3774b7fdd88bb48a79";

pub(crate) fn samples() -> Vec<Event> {
    vec![
        Event::FreightCreated(FreightCreatedV1 {
            project: "demo".into(),
            freight_id: FREIGHT.into(),
            alias: "brave-otter".into(),
            origin_kind: "Warehouse".into(),
            origin_name: "app".into(),
            commits: vec![CommitV1 {
                repo_url: "https://example.com/app.git".into(),
                id: "1234567890abcdef1234567890abcdef12345678".into(),
                branch: "main".into(),
                tag: String::new(),
                message: "add feature".into(),
                author: "Ann <ann@example.com>".into(),
                committer: "Ann <ann@example.com>".into(),
                subscription_name: String::new(),
            }],
            images: vec![ImageV1 {
                repo_url: "nginx".into(),
                tag: "1.27.0".into(),
                digest: "sha256:00".into(),
                subscription_name: String::new(),
            }],
            charts: vec![ChartV1 {
                repo_url: "oci://ghcr.io/x".into(),
                name: "app".into(),
                version: "1.0.0".into(),
                subscription_name: String::new(),
            }],
            created_at_ms: T,
        }),
        Event::PromotionCreated(PromotionCreatedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            trigger: PromotionTrigger::Auto,
            created_at_ms: T,
        }),
        Event::PromotionSucceeded(PromotionSucceededV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            commit: "abcdef0".into(),
            finished_at_ms: T,
        }),
        Event::PromotionFailed(PromotionFailedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            reason: "step 2 (git-push): rejected".into(),
            finished_at_ms: T,
        }),
        Event::FreightVerified(FreightVerifiedV1 {
            project: "demo".into(),
            stage: "test".into(),
            freight_id: FREIGHT.into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            verified_at_ms: T,
        }),
        Event::WarehouseRefreshRequested(WarehouseRefreshRequestedV1 {
            project: "demo".into(),
            warehouse: "app".into(),
            request_id: "01jg00000000000000000000".into(),
            requested_at_ms: T,
        }),
        Event::WarehouseDiscoveryFailed(WarehouseDiscoveryFailedV1 {
            project: "demo".into(),
            warehouse: "app".into(),
            reason: "repository not found".into(),
            failed_at_ms: T,
        }),
        Event::PromotionStarted(PromotionStartedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            started_at_ms: T,
        }),
        Event::PromotionStepFinished(PromotionStepFinishedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            index: 2,
            alias: "commit".into(),
            uses: "git-commit".into(),
            status: StepStatus::Failed,
            message: "nothing to commit".into(),
            started_at_ms: T,
            finished_at_ms: T + 5,
        }),
        Event::PromotionAborted(PromotionAbortedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            reason: "superseded by newer freight".into(),
            aborted_at_ms: T,
        }),
        Event::FreightAliasChanged(FreightAliasChangedV1 {
            project: "demo".into(),
            freight_id: FREIGHT.into(),
            alias: "release-1".into(),
            previous_alias: "brave-otter".into(),
            changed_at_ms: T,
        }),
        Event::PromotionErrored(PromotionErroredV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            reason: "stage \"test\" no longer exists".into(),
            errored_at_ms: T,
        }),
        Event::PromotionStepFinishedV2(PromotionStepFinishedV2 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            index: 3,
            alias: "notify".into(),
            uses: "http".into(),
            status: StepStatusV2::Skipped,
            message: "skipped: `if: failure()` was false".into(),
            started_at_ms: T,
            finished_at_ms: T,
        }),
        Event::WarehouseArtifactsDiscovered(WarehouseArtifactsDiscoveredV1 {
            project: "demo".into(),
            warehouse: "app".into(),
            discovered_at_ms: T,
            git: vec![GitDiscoveryResultV1 {
                repo_url: "https://example.com/app.git".into(),
                commits: vec![DiscoveredCommitV1 {
                    id: "1234567890abcdef1234567890abcdef12345678".into(),
                    branch: "main".into(),
                    tag: "v1.2.0".into(),
                    subject: "add feature".into(),
                    author: "Ann <ann@example.com>".into(),
                    committer: "Ann <ann@example.com>".into(),
                    creator_date_ms: T,
                }],
            }],
            images: vec![ImageDiscoveryResultV1 {
                repo_url: "ghcr.io/x/app".into(),
                platform: "linux/amd64".into(),
                references: vec![DiscoveredImageV1 {
                    tag: "1.2.0".into(),
                    digest: "sha256:00".into(),
                    created_at_ms: T,
                }],
            }],
            charts: vec![ChartDiscoveryResultV1 {
                repo_url: "https://charts.example.com".into(),
                name: "app".into(),
                semver_constraint: "^1".into(),
                versions: vec!["1.2.0".into(), "1.1.0".into()],
            }],
        }),
        Event::FreightApproved(FreightApprovedV1 {
            project: "demo".into(),
            freight_id: FREIGHT.into(),
            stage: "prod".into(),
            actor: "ann".into(),
            approved_at_ms: T,
        }),
        Event::FreightDeleted(FreightDeletedV1 {
            project: "demo".into(),
            freight_id: FREIGHT.into(),
            actor: "ann".into(),
            deleted_at_ms: T,
        }),
        Event::FreightAliasChangedV2(FreightAliasChangedV2 {
            project: "demo".into(),
            freight_id: FREIGHT.into(),
            alias: "frozen-tauntaun".into(),
            previous_alias: "brave-otter".into(),
            actor: "ann".into(),
            changed_at_ms: T,
        }),
        Event::PromotionCreatedV2(PromotionCreatedV2 {
            project: "demo".into(),
            stage: "uat".into(),
            promotion: "uat.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            trigger: PromotionTrigger::Manual,
            actor: "ann".into(),
            created_at_ms: T,
        }),
        Event::PromotionAbortedV2(PromotionAbortedV2 {
            project: "demo".into(),
            stage: "uat".into(),
            promotion: "uat.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            reason: "aborted by ann".into(),
            actor: "ann".into(),
            aborted_at_ms: T,
        }),
        Event::WarehouseRefreshHandled(WarehouseRefreshHandledV1 {
            project: "demo".into(),
            warehouse: "app".into(),
            request_id: "01jg00000000000000000000".into(),
            handled_at_ms: T,
        }),
        Event::VerificationRequested(VerificationRequestedV1 {
            project: "demo".into(),
            stage: "test".into(),
            freight_id: FREIGHT.into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            request_id: "01jg00000000000000000000".into(),
            abort: false,
            actor: "ann".into(),
            requested_at_ms: T,
        }),
        Event::VerificationStarted(VerificationStartedV1 {
            project: "demo".into(),
            stage: "test".into(),
            freight_id: FREIGHT.into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            verification_id: "test.01jg00000000000000000000.1edc32a".into(),
            actor: "lading/verifier".into(),
            templates: vec!["AnalysisTemplate/success-rate".into()],
            started_at_ms: T,
        }),
        Event::VerificationMeasured(VerificationMeasuredV1 {
            project: "demo".into(),
            stage: "test".into(),
            verification_id: "test.01jg00000000000000000000.1edc32a".into(),
            metric: "success-rate".into(),
            index: 0,
            phase: VerificationPhaseV1::Failed,
            value: "[0.5]".into(),
            message: "value [0.5] did not meet successCondition \"result[0] >= 0.95\"".into(),
            started_at_ms: T,
            finished_at_ms: T + 10,
        }),
        Event::VerificationFinished(VerificationFinishedV1 {
            project: "demo".into(),
            stage: "test".into(),
            freight_id: FREIGHT.into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            verification_id: "test.01jg00000000000000000000.1edc32a".into(),
            phase: VerificationPhaseV1::Failed,
            message: "metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)".into(),
            finished_at_ms: T,
        }),
        Event::PromotionPushed(PromotionPushedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            index: 4,
            repo_url: "https://example.com/gitops.git".into(),
            branch: "stage/test".into(),
            commit: "abcdef0".into(),
            changed_files: 1,
            changes: vec![FileChangeV1 { path: "values.yaml".into(), added: 1, removed: 1 }],
            pushed_at_ms: T,
        }),
        Event::StageHealthChanged(StageHealthChangedV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            change: 1,
            status: HealthStatusV1::Degraded,
            issues: vec!["Argo CD Application \"app\" in namespace \"argocd\" has health state \"Degraded\"".into()],
            config: r#"[{"uses":"argocd-update","config":{"apps":[{"name":"app"}]}}]"#.into(),
            output: "[]".into(),
            checked_at_ms: T,
        }),
        Event::FreightMetadataSet(FreightMetadataSetV1 {
            project: "demo".into(),
            freight_id: FREIGHT.into(),
            values: r#"{"baz":true}"#.into(),
            actor: "promotion/test.01jg00000000000000000000.1edc32a".into(),
            set_at_ms: T,
        }),
        Event::StageMetadataSet(StageMetadataSetV1 {
            project: "demo".into(),
            stage: "test".into(),
            values: r#"{"bar":42}"#.into(),
            actor: "promotion/test.01jg00000000000000000000.1edc32a".into(),
            set_at_ms: T,
        }),
        Event::PromotionWaiting(PromotionWaitingV1 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01jg00000000000000000000.1edc32a".into(),
            freight_id: FREIGHT.into(),
            index: 5,
            alias: "wait".into(),
            uses: "git-wait-for-pr".into(),
            state: r#"{"commit":"abc","outputs":{"open":{"pr":{"id":7}}}}"#.into(),
            message: "pull request https://github.com/example/app/pull/7".into(),
            waiting_since_ms: T,
            poll_interval_ms: 30_000,
        }),
        Event::StageRefreshRequested(StageRefreshRequestedV1 {
            project: "demo".into(),
            stage: "test".into(),
            request_id: "01jg00000000000000000000".into(),
            requested_at_ms: T,
        }),
        Event::StageRefreshHandled(StageRefreshHandledV1 {
            project: "demo".into(),
            stage: "test".into(),
            request_id: "01jg00000000000000000000".into(),
            handled_at_ms: T,
        }),
        Event::WarehouseRefreshRequestedV2(WarehouseRefreshRequestedV2 {
            project: "demo".into(),
            warehouse: "app".into(),
            request_id: "1767225600".into(),
            after_seq: 42,
            requested_at_ms: T,
        }),
        Event::WarehouseRefreshHandledV2(WarehouseRefreshHandledV2 {
            project: "demo".into(),
            warehouse: "app".into(),
            request_id: "1767225600".into(),
            after_seq: 42,
            handled_at_ms: T,
        }),
        Event::StageRefreshRequestedV2(StageRefreshRequestedV2 {
            project: "demo".into(),
            stage: "test".into(),
            request_id: "1767225600".into(),
            after_seq: 42,
            requested_at_ms: T,
        }),
        Event::StageRefreshHandledV2(StageRefreshHandledV2 {
            project: "demo".into(),
            stage: "test".into(),
            request_id: "1767225600".into(),
            after_seq: 42,
            handled_at_ms: T,
        }),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const GOLDEN: [(&str, &str); 35] = [
    (
        "dev.lading.freight.created.v1",
        "0464656d6f28316564633332613835356634616365656164343362663337373462376664643838626234386137390b62726176652d6f747465720957617265686f75736503617070011b68747470733a2f2f6578616d706c652e636f6d2f6170702e6769742831323334353637383930616263646566313233343536373839306162636465663132333435363738046d61696e000b616464206665617475726515416e6e203c616e6e406578616d706c652e636f6d3e15416e6e203c616e6e406578616d706c652e636f6d3e0001056e67696e7806312e32372e30097368613235363a303000010f6f63693a2f2f676863722e696f2f780361707005312e302e300080a0d5edee66",
    ),
    (
        "dev.lading.promotion.created.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e3165646333326128316564633332613835356634616365656164343362663337373462376664643838626234386137390080a0d5edee66",
    ),
    (
        "dev.lading.promotion.succeeded.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e316564633332612831656463333261383535663461636565616434336266333737346237666464383862623438613739076162636465663080a0d5edee66",
    ),
    (
        "dev.lading.promotion.failed.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e3165646333326128316564633332613835356634616365656164343362663337373462376664643838626234386137391b73746570203220286769742d70757368293a2072656a656374656480a0d5edee66",
    ),
    (
        "dev.lading.freight.verified.v1",
        "0464656d6f0474657374283165646333326138353566346163656561643433626633373734623766646438386262343861373925746573742e30316a6730303030303030303030303030303030303030302e3165646333326180a0d5edee66",
    ),
    (
        "dev.lading.warehouse.refresh-requested.v1",
        "0464656d6f036170701830316a67303030303030303030303030303030303030303080a0d5edee66",
    ),
    (
        "dev.lading.warehouse.discovery-failed.v1",
        "0464656d6f03617070147265706f7369746f7279206e6f7420666f756e6480a0d5edee66",
    ),
    (
        "dev.lading.promotion.started.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e31656463333261283165646333326138353566346163656561643433626633373734623766646438386262343861373980a0d5edee66",
    ),
    (
        "dev.lading.promotion.step-finished.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e316564633332610206636f6d6d69740a6769742d636f6d6d697401116e6f7468696e6720746f20636f6d6d697480a0d5edee668aa0d5edee66",
    ),
    (
        "dev.lading.promotion.aborted.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e3165646333326128316564633332613835356634616365656164343362663337373462376664643838626234386137391b73757065727365646564206279206e65776572206672656967687480a0d5edee66",
    ),
    (
        "dev.lading.freight.alias-changed.v1",
        "0464656d6f28316564633332613835356634616365656164343362663337373462376664643838626234386137390972656c656173652d310b62726176652d6f7474657280a0d5edee66",
    ),
    (
        "dev.lading.promotion.errored.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e3165646333326128316564633332613835356634616365656164343362663337373462376664643838626234386137391d737461676520227465737422206e6f206c6f6e6765722065786973747380a0d5edee66",
    ),
    (
        "dev.lading.promotion.step-finished.v2",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e3165646333326103066e6f7469667904687474700322736b69707065643a206069663a206661696c757265282960207761732066616c736580a0d5edee6680a0d5edee66",
    ),
    (
        "dev.lading.warehouse.artifacts-discovered.v1",
        "0464656d6f0361707080a0d5edee66011b68747470733a2f2f6578616d706c652e636f6d2f6170702e676974012831323334353637383930616263646566313233343536373839306162636465663132333435363738046d61696e0676312e322e300b616464206665617475726515416e6e203c616e6e406578616d706c652e636f6d3e15416e6e203c616e6e406578616d706c652e636f6d3e80a0d5edee66010d676863722e696f2f782f6170700b6c696e75782f616d6436340105312e322e30097368613235363a303080a0d5edee66011a68747470733a2f2f6368617274732e6578616d706c652e636f6d03617070025e310205312e322e3005312e312e30",
    ),
    (
        "dev.lading.freight.approved.v1",
        "0464656d6f28316564633332613835356634616365656164343362663337373462376664643838626234386137390470726f6403616e6e80a0d5edee66",
    ),
    (
        "dev.lading.freight.deleted.v1",
        "0464656d6f283165646333326138353566346163656561643433626633373734623766646438386262343861373903616e6e80a0d5edee66",
    ),
    (
        "dev.lading.freight.alias-changed.v2",
        "0464656d6f28316564633332613835356634616365656164343362663337373462376664643838626234386137390f66726f7a656e2d7461756e7461756e0b62726176652d6f7474657203616e6e80a0d5edee66",
    ),
    (
        "dev.lading.promotion.created.v2",
        "0464656d6f03756174247561742e30316a6730303030303030303030303030303030303030302e3165646333326128316564633332613835356634616365656164343362663337373462376664643838626234386137390103616e6e80a0d5edee66",
    ),
    (
        "dev.lading.promotion.aborted.v2",
        "0464656d6f03756174247561742e30316a6730303030303030303030303030303030303030302e3165646333326128316564633332613835356634616365656164343362663337373462376664643838626234386137390e61626f7274656420627920616e6e03616e6e80a0d5edee66",
    ),
    (
        "dev.lading.warehouse.refresh-handled.v1",
        "0464656d6f036170701830316a67303030303030303030303030303030303030303080a0d5edee66",
    ),
    (
        "dev.lading.verification.requested.v1",
        "0464656d6f0474657374283165646333326138353566346163656561643433626633373734623766646438386262343861373925746573742e30316a6730303030303030303030303030303030303030302e316564633332611830316a6730303030303030303030303030303030303030300003616e6e80a0d5edee66",
    ),
    (
        "dev.lading.verification.started.v1",
        "0464656d6f0474657374283165646333326138353566346163656561643433626633373734623766646438386262343861373925746573742e30316a6730303030303030303030303030303030303030302e3165646333326125746573742e30316a6730303030303030303030303030303030303030302e316564633332610f6c6164696e672f7665726966696572011d416e616c7973697354656d706c6174652f737563636573732d7261746580a0d5edee66",
    ),
    (
        "dev.lading.verification.measured.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e316564633332610c737563636573732d726174650003055b302e355d3d76616c7565205b302e355d20646964206e6f74206d6565742073756363657373436f6e646974696f6e2022726573756c745b305d203e3d20302e39352280a0d5edee6694a0d5edee66",
    ),
    (
        "dev.lading.verification.finished.v1",
        "0464656d6f0474657374283165646333326138353566346163656561643433626633373734623766646438386262343861373925746573742e30316a6730303030303030303030303030303030303030302e3165646333326125746573742e30316a6730303030303030303030303030303030303030302e31656463333261034a6d65747269632022737563636573732d7261746522206173736573736564204661696c65642064756520746f206661696c656420283129203e206661696c7572654c696d69742028302980a0d5edee66",
    ),
    (
        "dev.lading.promotion.pushed.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e31656463333261041e68747470733a2f2f6578616d706c652e636f6d2f6769746f70732e6769740a73746167652f74657374076162636465663001010b76616c7565732e79616d6c010180a0d5edee66",
    ),
    (
        "dev.lading.stage.health-changed.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e316564633332610103014b4172676f204344204170706c69636174696f6e20226170702220696e206e616d65737061636520226172676f63642220686173206865616c746820737461746520224465677261646564223d5b7b2275736573223a226172676f63642d757064617465222c22636f6e666967223a7b2261707073223a5b7b226e616d65223a22617070227d5d7d7d5d025b5d80a0d5edee66",
    ),
    (
        "dev.lading.freight.metadata-set.v1",
        "0464656d6f28316564633332613835356634616365656164343362663337373462376664643838626234386137390c7b2262617a223a747275657d2f70726f6d6f74696f6e2f746573742e30316a6730303030303030303030303030303030303030302e3165646333326180a0d5edee66",
    ),
    (
        "dev.lading.stage.metadata-set.v1",
        "0464656d6f04746573740a7b22626172223a34327d2f70726f6d6f74696f6e2f746573742e30316a6730303030303030303030303030303030303030302e3165646333326180a0d5edee66",
    ),
    (
        "dev.lading.promotion.waiting.v1",
        "0464656d6f047465737425746573742e30316a6730303030303030303030303030303030303030302e3165646333326128316564633332613835356634616365656164343362663337373462376664643838626234386137390504776169740f6769742d776169742d666f722d7072337b22636f6d6d6974223a22616263222c226f757470757473223a7b226f70656e223a7b227072223a7b226964223a377d7d7d7d3270756c6c20726571756573742068747470733a2f2f6769746875622e636f6d2f6578616d706c652f6170702f70756c6c2f3780a0d5edee66b0ea01",
    ),
    (
        "dev.lading.stage.refresh-requested.v1",
        "0464656d6f04746573741830316a67303030303030303030303030303030303030303080a0d5edee66",
    ),
    (
        "dev.lading.stage.refresh-handled.v1",
        "0464656d6f04746573741830316a67303030303030303030303030303030303030303080a0d5edee66",
    ),
    ("dev.lading.warehouse.refresh-requested.v2", "0464656d6f036170700a313736373232353630302a80a0d5edee66"),
    ("dev.lading.warehouse.refresh-handled.v2", "0464656d6f036170700a313736373232353630302a80a0d5edee66"),
    ("dev.lading.stage.refresh-requested.v2", "0464656d6f04746573740a313736373232353630302a80a0d5edee66"),
    ("dev.lading.stage.refresh-handled.v2", "0464656d6f04746573740a313736373232353630302a80a0d5edee66"),
];

#[test]
#[ignore = "prints the encodings of the samples, for adding a new type's golden bytes"]
fn print_encodings() {
    for event in samples() {
        println!("(\"{}\", \"{}\"),", event.event_type().ce_type(), hex(&encode(&event)));
    }
}

#[test]
fn v1_payloads_keep_their_bytes() {
    let samples = samples();
    assert_eq!(samples.len(), GOLDEN.len(), "every event type has a golden sample");
    for (event, (ce_type, golden)) in samples.iter().zip(GOLDEN) {
        assert_eq!(event.event_type().ce_type(), ce_type);
        assert_eq!(hex(&encode(event)), golden, "{ce_type} changed shape");
    }
}

#[test]
fn every_event_round_trips() {
    for event in samples() {
        let decoded = decode(Some(event.event_type().ce_type()), &encode(&event)).unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn undecodable_messages_are_errors_not_panics() {
    assert!(matches!(decode(None, b""), Err(DecodeError::MissingType)));
    assert!(matches!(decode(Some("dev.other.v1"), b""), Err(DecodeError::UnknownType(_))));
    for ce_type in GOLDEN.map(|(t, _)| t) {
        assert!(matches!(decode(Some(ce_type), &[0xff, 0xff, 0xff]), Err(DecodeError::Payload { .. })), "{ce_type}");
    }
}

#[test]
fn identities_are_stable_and_distinct() {
    let ids: std::collections::HashSet<_> = samples().iter().map(Event::identity).collect();
    // succeeded, failed and aborted of one promotion share an identity: one is stored.
    assert_eq!(ids.len(), samples().len() - 3);
    assert_eq!(samples()[0].identity(), format!("freight-created:demo:{FREIGHT}"));
    assert_eq!(samples()[0].subject(), format!("lading.evt.demo.freight.{FREIGHT}.created"));
}

#[test]
fn headers_follow_cloudevents_binary_mode() {
    let event = &samples()[0];
    let trace = crate::TraceContext::root(1, 2);
    let headers = crate::EventHeaders::for_event(event, "/lading/warehouse", &trace);
    assert_eq!(headers.ce_type, "dev.lading.freight.created.v1");
    assert_eq!(headers.time, "2026-01-01T00:00:00.000Z");
    let pairs = headers.pairs();
    for name in
        ["ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time", "ce-subject", "traceparent", "Nats-Msg-Id"]
    {
        assert!(pairs.iter().any(|(n, v)| *n == name && !v.is_empty()), "{name}");
    }
}
