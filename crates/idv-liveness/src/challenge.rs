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
/// Time allowed per action.
pub const ACTION_WINDOW_MS: u32 = 3000;

/// A challenge: actions in order, optional flash colours, capture cadence and the time allowed per action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeSpec {
    pub actions: Vec<Action>,
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
        let spec = Self { actions, colours, colour_ms, frame_interval_ms, action_window_ms };
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

    /// Frames a capture of this challenge should carry: a settled baseline, then each action and each colour in
    /// its window, at most `max`.
    pub fn frames_wanted(&self, max: u32) -> u32 {
        let interval = self.frame_interval_ms.max(1);
        let per_action = self.action_window_ms / interval;
        let flash = self.colours.len() as u32 * self.colour_ms / interval;
        (5 + per_action * self.actions.len() as u32 + flash).min(max)
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
        let s =
            ChallengeSpec::from_names(&names(&["blink", "head_left"]), &names(&["#ff0000", "#00FF7f"]), 100, 100, 3000)
                .unwrap();
        assert_eq!(s.actions, vec![Action::Blink, Action::HeadLeft]);
        assert_eq!(s.colours, vec![[255, 0, 0], [0, 255, 127]]);
        assert_eq!(s.names().1, vec!["#ff0000", "#00ff7f"]);
        assert_eq!(s.colour_at(40, 140), Some([0, 255, 127]));
        assert_eq!(s.colour_at(40, 240), None);
        assert!(ChallengeSpec::from_names(&names(&["wink"]), &[], 100, 100, 3000).is_err());
        assert!(parse_colour("#12345").is_err() && parse_colour("123456").is_err() && parse_colour("#12345g").is_err());
    }
}
