use idv_flow::*;

use crate::fixtures::*;

fn verdict(next: Next) -> (Verdict, Ending) {
    match next {
        Next::Done { verdict, ending } => (*verdict, ending),
        other => panic!("expected the end of the flow, got {other:?}"),
    }
}

#[test]
fn every_product_runs_its_steps_in_order() {
    let cases: [(Product, bool, Vec<Step>); 5] = [
        (Product::Ekyc, false, vec![Step::DocFront, Step::Face]),
        (Product::Ekyc, true, vec![Step::DocFront, Step::DocBack, Step::Face]),
        (Product::EkycPro, false, vec![Step::DocFront, Step::Face]),
        (Product::IdOcr, false, vec![Step::DocFront]),
        (Product::FaceLiveness, false, vec![Step::Face]),
    ];
    for (product, back, steps) in cases {
        let mut flow = Flow::new(product.steps(back)).unwrap();
        let p = policy(product);
        let mut seen = vec![flow.step()];
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(flow.step(), *step);
            assert_eq!(flow.round(), i as u32 + 1, "one round per accepted step");
            let outcome = match step {
                Step::DocFront => StepOutcome::Accepted(Box::new(doc(Page::Front, good_checks(), true))),
                Step::DocBack => StepOutcome::Accepted(Box::new(doc(Page::Back, good_checks(), false))),
                Step::Face => StepOutcome::Accepted(Box::new(face(matched(), LivenessOutcome::Passed))),
            };
            match flow.accept(&p, outcome).unwrap() {
                Next::Step(s) => seen.push(s),
                Next::Done { verdict, ending } => {
                    assert_eq!(i + 1, steps.len(), "{product:?} ended early");
                    assert_eq!(ending, Ending::Decided);
                    assert!(verdict.passed, "{product:?}: {:?}", verdict.reasons);
                    assert_eq!(verdict.sub_code, SubCode::Passed);
                    assert_eq!(verdict.reasons, vec!["every check passed".to_string()]);
                }
                Next::Retake { .. } => panic!("no retake was asked for"),
            }
        }
        assert_eq!(seen, steps, "{product:?}");
        assert!(flow.is_finished());
        assert_eq!(
            flow.accept(&p, StepOutcome::Accepted(Box::new(face(matched(), LivenessOutcome::Passed)))),
            Err(FlowError::Finished)
        );
    }
}

#[test]
fn a_flow_needs_steps() {
    assert_eq!(Flow::new(Vec::new()).unwrap_err(), FlowError::NoSteps);
}

#[test]
fn retakes_cost_an_attempt_and_a_new_round_then_end_the_flow() {
    let mut flow = Flow::new(Product::IdOcr.steps(false)).unwrap();
    let p = policy(Product::IdOcr);
    let retake = || StepOutcome::Retake { reason: RetakeReason::DocUnreadable, detail: "no MRZ".into() };
    assert_eq!(flow.attempts_left(), MAX_ATTEMPTS);
    for k in 1..MAX_ATTEMPTS {
        let next = flow.accept(&p, retake()).unwrap();
        assert_eq!(next, Next::Retake { reason: RetakeReason::DocUnreadable, detail: "no MRZ".into() });
        assert_eq!(flow.attempts_left(), MAX_ATTEMPTS - k);
        assert_eq!(flow.round(), k + 1);
        assert_eq!(flow.step(), Step::DocFront);
    }
    let (v, ending) = verdict(flow.accept(&p, retake()).unwrap());
    assert_eq!(ending, Ending::Exhausted);
    assert_eq!(v.sub_code, SubCode::PoorQuality);
    assert!(v.reasons[0].contains("still unusable after 3 attempts (no MRZ)"), "{:?}", v.reasons);
    assert!(v.decision.is_none(), "no decision was taken on evidence");
}

#[test]
fn exhausted_liveness_retakes_are_a_liveness_failure() {
    let r = || StepOutcome::Retake { reason: RetakeReason::LivenessActionMissing, detail: "no blink".into() };
    let (_, next) = run(Product::FaceLiveness, false, vec![r(), r(), r()]);
    let (v, _) = verdict(next);
    assert_eq!(v.sub_code, SubCode::LivenessFailed);
}

#[test]
fn an_accepted_step_resets_the_attempts() {
    let mut flow = Flow::new(Product::Ekyc.steps(false)).unwrap();
    let p = policy(Product::Ekyc);
    flow.accept(&p, StepOutcome::Retake { reason: RetakeReason::TooLarge, detail: String::new() }).unwrap();
    assert_eq!(flow.attempts_left(), MAX_ATTEMPTS - 1);
    assert_eq!(
        flow.accept(&p, StepOutcome::Accepted(Box::new(doc(Page::Front, good_checks(), true)))).unwrap(),
        Next::Step(Step::Face)
    );
    assert_eq!((flow.attempts_left(), flow.round()), (MAX_ATTEMPTS, 3));
}

#[test]
fn retake_codes_are_stable_and_classified() {
    let codes: std::collections::BTreeSet<&str> = RetakeReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), RetakeReason::ALL.len(), "codes are distinct");
    for r in RetakeReason::ALL {
        assert_eq!(r.is_liveness(), r.code().starts_with("LIVENESS_"), "{r:?}");
        assert_eq!(serde_json::to_value(r).unwrap(), r.code(), "serde form is the wire code");
    }
}

#[test]
fn the_flow_state_round_trips() {
    let mut flow = Flow::new(Product::Ekyc.steps(true)).unwrap();
    flow.accept(&policy(Product::Ekyc), StepOutcome::Accepted(Box::new(doc(Page::Front, good_checks(), true))))
        .unwrap();
    let back: Flow = serde_json::from_slice(&serde_json::to_vec(&flow).unwrap()).unwrap();
    assert_eq!(back, flow);
}
