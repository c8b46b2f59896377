//! Evaluation on synthetic sessions: BPCER over genuine sessions and APCER per attack kind.

pub mod synth;

use std::fmt;

use idv_liveness::fingerprint::{distance, judge_replay};
use idv_liveness::{Action, CaptureFingerprint, LivenessEngine, LivenessVerdict, ReasonCode, Result};
use serde::Serialize;

use synth::{AttackKind, Portrait, Rng};

/// One evaluated session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalCase {
    pub label: String,
    /// `None` for genuine sessions.
    pub attack: Option<&'static str>,
    pub passed: bool,
    /// For attacks: the expected reason code was among the reasons.
    pub expected_reason: Option<bool>,
    pub reasons: Vec<ReasonCode>,
    /// The reasons' details (measured values), for the report of what went wrong.
    pub details: Vec<String>,
}

/// Per attack kind: attempts, how many passed (APCER numerator) and how many carried their own reason code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackStats {
    pub kind: &'static str,
    pub expected: ReasonCode,
    pub attempts: usize,
    pub accepted: usize,
    pub with_expected_reason: usize,
}

/// Result of [`evaluate`]; `Display` prints the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Says what the data is, so no one quotes the figures as real-world rates.
    pub data: &'static str,
    pub portraits: Vec<String>,
    pub genuine_attempts: usize,
    pub genuine_rejected: usize,
    pub attacks: Vec<AttackStats>,
    pub cases: Vec<EvalCase>,
}

/// SFace cosine under which two portraits are taken to show different people (same-person pairs of the test
/// portraits measure 0.65-0.89, different people at most 0.27; see idv-face's calibration).
const IMPOSTOR_COSINE: f32 = 0.35;

/// The challenges of the evaluation: every action at least once, alone and in pairs, with and without flash.
pub fn challenge_sets() -> Vec<(Vec<Action>, usize)> {
    use Action::*;
    use idv_liveness::flash::SEQUENCE_LEN;
    vec![
        (vec![Blink], SEQUENCE_LEN),
        (vec![Blink, HeadLeft], 0),
        (vec![OpenMouth, HeadRight], SEQUENCE_LEN),
        (vec![HeadLeft, HeadRight], 0),
        (vec![Farther, Closer], 0),
        (vec![Closer, Blink, OpenMouth], SEQUENCE_LEN),
    ]
}

/// Renders genuine sessions (every portrait x every challenge set) and attacks (every kind on every
/// portrait, on the challenge sets it applies to; the impostor of identity swaps is the next portrait of
/// another person), runs the engine on each and counts. `stills` are (name, decoded portrait) pairs; at least
/// two are needed. Portraits are shared out over `threads` threads; each has its own random stream derived
/// from `seed`, so the report does not depend on the thread count.
pub fn evaluate(
    engine: &LivenessEngine,
    stills: &[(String, idv_vision::DecodedImage)],
    seed: u64,
    threads: usize,
) -> Result<EvalReport> {
    let portraits: Vec<Portrait> =
        stills.iter().map(|(n, img)| Portrait::new(engine, n, img, 480, 640)).collect::<Result<_>>()?;
    // The impostor of an identity swap must be another person: several portraits show the same one (three of
    // Obama), and a swap between two photos of one person is not the attack measured here.
    let identity = |p: &Portrait| -> Result<Option<idv_face::Embedding>> {
        let o = engine.analyse_frame(&p.base, 0)?;
        o.face.as_ref().map(|f| engine.embed(&p.base, &f.detection)).transpose()
    };
    let ids: Vec<Option<idv_face::Embedding>> = portraits.iter().map(identity).collect::<Result<_>>()?;
    let impostor_of = |pi: usize| -> usize {
        (1..portraits.len())
            .map(|k| (pi + k) % portraits.len())
            .find(|&j| match (&ids[pi], &ids[j]) {
                (Some(a), Some(b)) => a.cosine(b) < IMPOSTOR_COSINE,
                _ => false,
            })
            .unwrap_or((pi + 1) % portraits.len())
    };
    let sets = challenge_sets();
    let case = |label: String, attack: Option<AttackKind>, v: LivenessVerdict| EvalCase {
        label,
        attack: attack.map(AttackKind::name),
        passed: v.passed,
        expected_reason: attack.map(|k| v.has(k.expected())),
        reasons: v.reasons.iter().map(|r| r.code).collect(),
        details: v.reasons.iter().map(|r| r.detail.clone()).collect(),
    };
    // The server's replay registry, in memory and per portrait (a replay is of the same user): every genuine
    // session's capture fingerprint is registered after it is judged against those before it, and every attack
    // is judged against them all, as the server judges a capture against other transactions' captures.
    let judged = |s: &synth::Session, registry: &[CaptureFingerprint]| -> Result<(LivenessVerdict, _)> {
        let (v, f) = engine.verify_fingerprinted(&s.challenge, &s.frames, None)?;
        let nearest =
            f.as_ref().map_or(f32::INFINITY, |f| registry.iter().map(|r| distance(f, r)).fold(f32::INFINITY, f32::min));
        Ok((judge_replay(v, nearest), f))
    };
    let one_portrait = |pi: usize| -> Result<Vec<EvalCase>> {
        let p = &portraits[pi];
        let mut cases = Vec::new();
        let mut rng = Rng::new(seed ^ (pi as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut registry = Vec::new();
        let mut genuine = Vec::new();
        for (actions, colours) in &sets {
            let spec = synth::challenge(actions, *colours, &mut rng);
            let s = synth::genuine(p, &spec, rng.next_u64());
            let (v, f) = judged(&s, &registry)?;
            registry.extend(f);
            cases.push(case(s.label.clone(), None, v));
            genuine.push(s);
        }
        let other = &portraits[impostor_of(pi)];
        for kind in AttackKind::ALL {
            // One attack per kind and portrait, on the first challenge set it applies to after a rotation, so
            // different portraits meet different challenges.
            let n = sets.len();
            let Some(spec) = (0..n)
                .map(|k| &sets[(k + pi) % n])
                .map(|(a, c)| synth::challenge(a, *c, &mut rng))
                .find(|s| kind.applies_to(s))
            else {
                continue;
            };
            let s = match kind {
                // The user's own genuine session for the same actions, from the registry, re-encoded and
                // submitted for the new challenge.
                AttackKind::ReencodedReplay => {
                    let source = genuine.iter().find(|g| g.challenge.actions == spec.actions).expect("every set");
                    let mut s = synth::reencode(source, &mut rng);
                    s.label = format!("{} {}", kind.name(), s.label);
                    s.challenge = spec.clone();
                    s
                }
                _ => synth::attack(kind, p, other, &spec, rng.next_u64()),
            };
            cases.push(case(s.label.clone(), Some(kind), judged(&s, &registry)?.0));
        }
        Ok(cases)
    };
    let threads = threads.clamp(1, portraits.len().max(1));
    type PortraitCases = Vec<(usize, Vec<EvalCase>)>;
    let per_thread: Vec<Result<PortraitCases>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let one = &one_portrait;
                let n = portraits.len();
                scope.spawn(move || (k..n).step_by(threads).map(|pi| Ok((pi, one(pi)?))).collect())
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("evaluation thread panicked")).collect()
    });
    let mut by_portrait = Vec::new();
    for r in per_thread {
        by_portrait.extend(r?);
    }
    by_portrait.sort_by_key(|(pi, _)| *pi);
    let cases: Vec<EvalCase> = by_portrait.into_iter().flat_map(|(_, c)| c).collect();
    let genuine: Vec<&EvalCase> = cases.iter().filter(|c| c.attack.is_none()).collect();
    let attacks = AttackKind::ALL
        .iter()
        .map(|k| {
            let of: Vec<&EvalCase> = cases.iter().filter(|c| c.attack == Some(k.name())).collect();
            AttackStats {
                kind: k.name(),
                expected: k.expected(),
                attempts: of.len(),
                accepted: of.iter().filter(|c| c.passed).count(),
                with_expected_reason: of.iter().filter(|c| c.expected_reason == Some(true)).count(),
            }
        })
        .collect();
    Ok(EvalReport {
        data: "SYNTHETIC: sessions rendered from still portraits by idv-eval's own generator",
        portraits: portraits.iter().map(|p| p.name.clone()).collect(),
        genuine_attempts: genuine.len(),
        genuine_rejected: genuine.iter().filter(|c| !c.passed).count(),
        attacks,
        cases,
    })
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 { "n/a".into() } else { format!("{:.1}% ({n}/{d})", 100.0 * n as f64 / d as f64) }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Liveness evaluation on SYNTHETIC data: sessions rendered from still portraits by idv-eval's")?;
        writeln!(f, "own generator. These figures show that each rule works end to end on the attacks it was built")?;
        writeln!(f, "for; they are not an estimate of error rates on real users or real attack instruments.")?;
        writeln!(f, "Portraits: {}", self.portraits.join(", "))?;
        writeln!(f)?;
        writeln!(f, "BPCER (genuine sessions rejected): {}", pct(self.genuine_rejected, self.genuine_attempts))?;
        for c in self.cases.iter().filter(|c| c.attack.is_none() && !c.passed) {
            writeln!(
                f,
                "  rejected: {} {:?} {:?}",
                c.label,
                c.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                c.details
            )?;
        }
        writeln!(f)?;
        writeln!(f, "{:<18} {:<24} {:>16} {:>22}", "attack", "expected reason", "APCER", "with expected reason")?;
        for a in &self.attacks {
            writeln!(
                f,
                "{:<18} {:<24} {:>16} {:>22}",
                a.kind,
                a.expected.as_str(),
                pct(a.accepted, a.attempts),
                pct(a.with_expected_reason, a.attempts)
            )?;
        }
        for c in self.cases.iter().filter(|c| c.attack.is_some() && (c.passed || c.expected_reason == Some(false))) {
            writeln!(
                f,
                "  {}: {} {:?} {:?}",
                if c.passed { "ACCEPTED" } else { "other reason" },
                c.label,
                c.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                c.details
            )?;
        }
        let total: usize = self.attacks.iter().map(|a| a.attempts).sum();
        let accepted: usize = self.attacks.iter().map(|a| a.accepted).sum();
        writeln!(f, "All attacks: APCER {}", pct(accepted, total))
    }
}
