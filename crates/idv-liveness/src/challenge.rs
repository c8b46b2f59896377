//! The challenge: what the user is asked to do (actions, flash colours, cadence, time per action), issued here
//! and read back by the engine. Its wire form is the caller's: actions travel as [`Action::name`], colours as
//! `#rrggbb` ([`colour_hex`]).

use serde::Serialize;

use crate::error::{LivenessError, Result};

/// One requested action. Directions are the user's own (see [`crate::measure`] for the pose conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Blink,
    OpenMouth,
    /// Turn the head to the user's own left (the nose moves to the picture's right).
    HeadLeft,
    /// Turn the head to the user's own right.
    HeadRight,
    /// Move the face away from the camera.
    Farther,
    /// Move the face towards the camera.
    Closer,
}

impl Action {
    pub const ALL: [Action; 6] =
        [Action::Blink, Action::OpenMouth, Action::HeadLeft, Action::HeadRight, Action::Farther, Action::Closer];

    /// The protocol's name (`blink`, `open_mouth`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Action::Blink => "blink",
            Action::OpenMouth => "open_mouth",
            Action::HeadLeft => "head_left",
            Action::HeadRight => "head_right",
            Action::Farther => "farther",
            Action::Closer => "closer",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Capture cadence the engine's timing checks are tuned for.
pub const FRAME_INTERVAL_MS: u32 = 100;
/// An action must be complete within this long after its cue. A voluntary blink takes a reaction of 250-450 ms
/// and about 300 ms of closing and reopening, a head turn about 450 ms of rising, so 1.5 s leaves a slow user
/// room; the window is kept short because a replayed capture's action lands in it by chance in proportion to
/// its width (see `issue::chance_rate`).
pub const ACTION_WINDOW_MS: u32 = 1500;
/// An action may not be complete sooner than this after its cue: nobody sees a cue, reacts and completes a blink
/// or a turn faster, so an earlier completion was not an answer to this cue.
pub const MIN_REACTION_MS: u32 = 300;
/// Latest cue the engine accepts, ms after the first frame: bounds the capture a challenge can ask for.
pub const MAX_CUE_MS: u32 = 30_000;

/// A challenge: actions in order, each with its cue time, optional flash colours, capture cadence and the time
/// allowed per action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeSpec {
    pub actions: Vec<Action>,
    /// When each action is asked for (one per action, increasing), ms after the first frame's `t_ms` (the flash
    /// colours' clock). Action `k` must be complete inside [`ChallengeSpec::window`]`(k)`: a capture recorded for
    /// other cues misses the windows.
    pub cues_ms: Vec<u32>,
    /// Screen colours, RGB. Colour `i` is on screen from `t0 + i·colour_ms` to `t0 + (i+1)·colour_ms`, `t0`
    /// being the first frame's `t_ms`, and the screen is neutral white afterwards.
    pub colours: Vec<[u8; 3]>,
    pub colour_ms: u32,
    pub frame_interval_ms: u32,
    pub action_window_ms: u32,
}

impl ChallengeSpec {
    /// Reads a challenge from its wire form (action names, `#rrggbb` colours); unknown actions and malformed
    /// colours are errors (the server issued them).
    pub fn from_names(
        actions: &[String],
        cues_ms: &[u32],
        colours: &[String],
        colour_ms: u32,
        frame_interval_ms: u32,
        action_window_ms: u32,
    ) -> Result<Self> {
        let actions = actions
            .iter()
            .map(|a| Action::parse(a).ok_or_else(|| LivenessError::InvalidChallenge(format!("unknown action {a:?}"))))
            .collect::<Result<Vec<_>>>()?;
        let colours = colours.iter().map(|s| parse_colour(s)).collect::<Result<Vec<_>>>()?;
        let spec = Self { actions, cues_ms: cues_ms.to_vec(), colours, colour_ms, frame_interval_ms, action_window_ms };
        spec.validate()?;
        Ok(spec)
    }

    /// The action names and `#rrggbb` colours of the wire form.
    pub fn names(&self) -> (Vec<String>, Vec<String>) {
        (
            self.actions.iter().map(|a| a.name().to_string()).collect(),
            self.colours.iter().map(|&c| colour_hex(c)).collect(),
        )
    }

    /// Where action `k` must be complete, ms after the first frame: from its cue plus [`MIN_REACTION_MS`] to its
    /// cue plus `action_window_ms`.
    pub fn window(&self, k: usize) -> (u32, u32) {
        let cue = self.cues_ms[k];
        (cue + MIN_REACTION_MS, cue + self.action_window_ms)
    }

    /// Whether a completion of action `k` at `t_ms` after the first frame answers its cue: inside its window, with
    /// one frame interval of grace at the end (the completing frame may be captured up to an interval late).
    pub fn in_window(&self, k: usize, t_ms: u32) -> bool {
        let (lo, hi) = self.window(k);
        (lo..=hi + self.frame_interval_ms).contains(&t_ms)
    }

    /// How long a capture of this challenge lasts, ms from the first frame: to the end of the last action's
    /// window or of the flash sequence, whichever is later.
    pub fn capture_ms(&self) -> u32 {
        let actions = self.actions.len().checked_sub(1).map_or(0, |k| self.window(k).1);
        actions.max(self.colours.len() as u32 * self.colour_ms)
    }

    /// Frames a capture of this challenge should carry: through the last window and the flash sequence, plus
    /// a few frames so the last action's completion is seen even a frame late, at most `max`.
    pub fn frames_wanted(&self, max: u32) -> u32 {
        let interval = self.frame_interval_ms.max(1);
        (self.capture_ms().div_ceil(interval) + 3).min(max)
    }

    pub fn validate(&self) -> Result<()> {
        if self.frame_interval_ms == 0 || self.action_window_ms == 0 {
            return Err(LivenessError::InvalidChallenge("frame interval and action window must be positive".into()));
        }
        if !self.colours.is_empty() && self.colour_ms < self.frame_interval_ms {
            return Err(LivenessError::InvalidChallenge("each colour must be shown for at least one frame".into()));
        }
        if self.actions.is_empty() && self.colours.is_empty() {
            return Err(LivenessError::InvalidChallenge("neither actions nor colours".into()));
        }
        if self.cues_ms.len() != self.actions.len() {
            return Err(LivenessError::InvalidChallenge(format!(
                "{} cues for {} actions",
                self.cues_ms.len(),
                self.actions.len()
            )));
        }
        if self.action_window_ms <= MIN_REACTION_MS {
            return Err(LivenessError::InvalidChallenge(format!(
                "the action window must exceed the minimum reaction time ({MIN_REACTION_MS} ms)"
            )));
        }
        // Overlapping windows would let one movement answer two cues.
        if let Some(w) = self.cues_ms.windows(2).find(|w| w[1] < w[0].saturating_add(self.action_window_ms)) {
            return Err(LivenessError::InvalidChallenge(format!(
                "cue at {} ms falls inside the previous action's window (cue at {} ms, {} ms)",
                w[1], w[0], self.action_window_ms
            )));
        }
        if self.cues_ms.last().is_some_and(|&c| c > MAX_CUE_MS) {
            return Err(LivenessError::InvalidChallenge(format!("cues must come within {MAX_CUE_MS} ms")));
        }
        Ok(())
    }

    /// The colour on screen at `t_ms`, given the first frame's time; `None` outside the flash sequence.
    pub fn colour_at(&self, t0_ms: u32, t_ms: u32) -> Option<[u8; 3]> {
        let i = (t_ms.checked_sub(t0_ms)? / self.colour_ms.max(1)) as usize;
        self.colours.get(i).copied()
    }
}

/// RGB to `#rrggbb`, the protocol's form.
pub fn colour_hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// `#rrggbb` to RGB.
pub fn parse_colour(s: &str) -> Result<[u8; 3]> {
    let bad = || LivenessError::InvalidChallenge(format!("colour {s:?} is not #rrggbb"));
    let hex =
        s.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit())).ok_or_else(bad)?;
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    Ok([byte(0)?, byte(2)?, byte(4)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_the_wire_form() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = ChallengeSpec::from_names(
            &names(&["blink", "head_left"]),
            &[500, 3500],
            &names(&["#ff0000", "#00FF7f"]),
            100,
            100,
            3000,
        )
        .unwrap();
        assert_eq!(s.actions, vec![Action::Blink, Action::HeadLeft]);
        assert_eq!(s.colours, vec![[255, 0, 0], [0, 255, 127]]);
        assert_eq!(s.names().1, vec!["#ff0000", "#00ff7f"]);
        assert_eq!(s.colour_at(40, 140), Some([0, 255, 127]));
        assert_eq!(s.colour_at(40, 240), None);
        assert_eq!(s.window(1), (3800, 6500));
        assert_eq!(s.capture_ms(), 6500);
        assert!(ChallengeSpec::from_names(&names(&["wink"]), &[500], &[], 100, 100, 3000).is_err());
        assert!(parse_colour("#12345").is_err() && parse_colour("123456").is_err() && parse_colour("#12345g").is_err());
    }

    #[test]
    fn cues_are_validated() {
        let ok = ChallengeSpec {
            actions: vec![Action::Blink, Action::Blink],
            cues_ms: vec![800, 2300],
            colours: Vec::new(),
            colour_ms: 0,
            frame_interval_ms: 100,
            action_window_ms: 1500,
        };
        ok.validate().unwrap();
        let bad = |f: fn(&mut ChallengeSpec)| {
            let mut s = ok.clone();
            f(&mut s);
            s.validate().unwrap_err().to_string()
        };
        assert!(
            bad(|s| {
                s.cues_ms.pop();
            })
            .contains("1 cues for 2 actions")
        );
        assert!(bad(|s| s.cues_ms[1] = 2299).contains("inside the previous action's window"));
        assert!(bad(|s| s.cues_ms = vec![2300, 800]).contains("inside the previous action's window"));
        assert!(bad(|s| s.action_window_ms = MIN_REACTION_MS).contains("minimum reaction"));
        assert!(bad(|s| s.cues_ms = vec![MAX_CUE_MS, MAX_CUE_MS + 1500]).contains("within"));
    }
}
