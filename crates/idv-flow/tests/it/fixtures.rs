use std::collections::BTreeMap;

use idv_flow::*;

pub fn check(name: &str, class: CheckClass, passed: bool) -> DocCheck {
    DocCheck { name: name.into(), class, passed, reason: if passed { String::new() } else { format!("{name} failed") } }
}

pub fn reading(checks: Vec<DocCheck>, portrait: bool) -> DocReading {
    DocReading {
        doc_type: "GLB03002".into(),
        class: DocClass::Passport,
        fields: BTreeMap::from([(DocField::Surname, "ERIKSSON".to_string())]),
        // Printed, as an engine reads it from a card's front: the pages of one card then agree on it.
        printed: [DocField::Surname].into(),
        unread: Default::default(),
        checks,
        mrz: None,
        located_by: "frame".into(),
        models: Vec::new(),
        portrait_found: portrait,
        portrait_face_refined: portrait,
    }
}

pub fn good_checks() -> Vec<DocCheck> {
    vec![
        check("mrz_present", CheckClass::Consistency, true),
        check("mrz_check_document_number", CheckClass::Consistency, true),
        check("not_expired", CheckClass::Validity, true),
    ]
}

pub fn doc(page: Page, checks: Vec<DocCheck>, portrait: bool) -> StepEvidence {
    StepEvidence::Document(DocEvidence {
        page,
        image: BlobId(format!("{page:?}-img")),
        portrait: portrait.then(|| BlobId("portrait".into())),
        reading: reading(checks, portrait),
    })
}

pub fn face(comparison: Comparison, outcome: LivenessOutcome) -> StepEvidence {
    let reasons = match outcome {
        LivenessOutcome::Passed => vec!["challenge [\"blink\"] performed".to_string()],
        LivenessOutcome::Attack => vec!["planar_motion: homography residual 0.4 px".to_string()],
    };
    StepEvidence::Face(FaceEvidence {
        duplicates: Vec::new(),
        image: BlobId("selfie".into()),
        selfie: None,
        comparison,
        liveness: LivenessEvidence {
            outcome,
            reasons,
            check: LivenessCheck::Challenge {
                challenge: ChallengeRecord {
                    actions: vec!["blink".into()],
                    cues_ms: vec![1200],
                    colours: Vec::new(),
                    colour_ms: 300,
                    frame_interval_ms: 100,
                    action_window_ms: 3000,
                },
                scores: serde_json::json!({"frames": 40}),
            },
        },
    })
}

pub fn matched() -> Comparison {
    Comparison::Compared { score: 91.5, cosine: 0.71, matched: true }
}

pub fn policy(product: Product) -> Policy {
    Policy { product, doc_type: product.needs_document().then(|| "GLB03002".to_string()) }
}

/// Runs every step of `product` with the given outcomes, in order, and returns the last answer.
pub fn run(product: Product, back_page: bool, outcomes: Vec<StepOutcome>) -> (Flow, Next) {
    let mut flow = Flow::new(product.steps(back_page)).unwrap();
    let p = policy(product);
    let mut last = None;
    for o in outcomes {
        last = Some(flow.accept(&p, o).unwrap());
    }
    (flow, last.expect("at least one outcome"))
}
