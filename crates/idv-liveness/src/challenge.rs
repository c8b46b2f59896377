//! The challenge as the engine reads it, parsed from the device protocol's [`Challenge`] message.

use idv_protocol::device::Challenge;
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
    /// Parses the protocol message; unknown actions and malformed colours are errors (the server issued them).
    pub fn from_protocol(c: &Challenge) -> Result<Self> {
        let actions = c
            .actions
            .iter()
            .map(|a| Action::parse(a).ok_or_else(|| LivenessError::InvalidChallenge(format!("unknown action {a:?}"))))
            .collect::<Result<Vec<_>>>()?;
        let colours = c.colours.iter().map(|s| parse_colour(s)).collect::<Result<Vec<_>>>()?;
        let spec = Self {
            actions,
            colours,
            colour_ms: c.colour_ms,
            frame_interval_ms: c.frame_interval_ms,
            action_window_ms: c.action_window_ms,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The protocol message for this challenge.
    pub fn to_protocol(&self) -> Challenge {
        Challenge {
            actions: self.actions.iter().map(|a| a.name().to_string()).collect(),
            colours: self.colours.iter().map(|&c| colour_hex(c)).collect(),
            colour_ms: self.colour_ms,
            frame_interval_ms: self.frame_interval_ms,
            action_window_ms: self.action_window_ms,
        }
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
    fn parses_and_renders_the_protocol_message() {
        let c = Challenge {
            actions: vec!["blink".into(), "head_left".into()],
            colours: vec!["#ff0000".into(), "#00FF7f".into()],
            colour_ms: 100,
            frame_interval_ms: 100,
            action_window_ms: 3000,
        };
        let s = ChallengeSpec::from_protocol(&c).unwrap();
        assert_eq!(s.actions, vec![Action::Blink, Action::HeadLeft]);
        assert_eq!(s.colours, vec![[255, 0, 0], [0, 255, 127]]);
        assert_eq!(s.to_protocol().colours, vec!["#ff0000", "#00ff7f"]);
        assert_eq!(s.colour_at(40, 140), Some([0, 255, 127]));
        assert_eq!(s.colour_at(40, 240), None);
        let bad = Challenge { actions: vec!["wink".into()], ..c.clone() };
        assert!(ChallengeSpec::from_protocol(&bad).is_err());
        assert!(parse_colour("#12345").is_err() && parse_colour("123456").is_err() && parse_colour("#12345g").is_err());
    }
}
