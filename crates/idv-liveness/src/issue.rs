//! Issuing a challenge: the draw of actions and flash colours for one face round. Kept apart from the
//! challenge's definition so the measuring modules (`flash`, `decide`) depend on the definition only.

use crate::challenge::{ACTION_WINDOW_MS, Action, ChallengeSpec, FRAME_INTERVAL_MS};
use crate::flash::{COLOUR_MS, SEQUENCE_LEN, colour_sequence};

/// What a merchant's liveness model asks for, before the draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengePlan {
    /// Candidate actions, in the merchant's order.
    pub actions: Vec<Action>,
    /// Draw this many of them at random (in random order); `None`: all, in order.
    pub draw: Option<usize>,
    /// Flash a colour sequence on the screen.
    pub flash: bool,
}

impl ChallengeSpec {
    /// Issues a challenge for `plan`, drawing from `next` (uniform random u64s; the caller owns the randomness,
    /// so the server draws it fresh per round and tests can replay it).
    pub fn issue(plan: &ChallengePlan, mut next: impl FnMut() -> u64) -> ChallengeSpec {
        let mut actions = plan.actions.clone();
        if let Some(n) = plan.draw {
            // Partial Fisher–Yates: `n` distinct actions in random order.
            let n = n.min(actions.len());
            for i in 0..n {
                let j = i + (next() % (actions.len() - i) as u64) as usize;
                actions.swap(i, j);
            }
            actions.truncate(n);
        }
        let colours = if plan.flash { colour_sequence(SEQUENCE_LEN, &mut next) } else { Vec::new() };
        ChallengeSpec {
            actions,
            colours,
            colour_ms: COLOUR_MS,
            frame_interval_ms: FRAME_INTERVAL_MS,
            action_window_ms: ACTION_WINDOW_MS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_challenges_follow_the_plan() {
        let mut x = 7u64;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 11
        };
        let all = ChallengePlan {
            actions: vec![Action::Blink, Action::HeadLeft, Action::OpenMouth],
            draw: None,
            flash: false,
        };
        let c = ChallengeSpec::issue(&all, &mut next);
        assert_eq!(c.actions, all.actions, "Seq keeps the merchant's order");
        assert!(c.colours.is_empty());
        assert_eq!(c.frames_wanted(120), 5 + 30 * 3);
        let ran = ChallengePlan { draw: Some(2), flash: true, ..all.clone() };
        for _ in 0..20 {
            let c = ChallengeSpec::issue(&ran, &mut next);
            assert_eq!(c.actions.len(), 2);
            assert_ne!(c.actions[0], c.actions[1]);
            assert!(c.actions.iter().all(|a| all.actions.contains(a)));
            assert_eq!(c.colours.len(), SEQUENCE_LEN);
            c.validate().unwrap();
        }
        assert_eq!(ChallengeSpec::issue(&ran, &mut next).frames_wanted(40), 40);
    }
}
