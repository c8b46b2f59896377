//! The decision over analysed frames: pure, no model runs here, so every rule is testable on its own.

use idv_face::Embedding;
use serde::Serialize;

use crate::challenge::{Action, ChallengeSpec};
use crate::flash::{MIN_COLOUR_CORRELATION, correlate};
use crate::mesh::idx;
use crate::observation::FrameObservation;
use crate::planar::planarity;
use crate::verdict::{ActionScore, LivenessScores, LivenessVerdict, Reason, ReasonCode};

/// Decision thresholds; the measurements behind them are in the crate README.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Mesh face-presence probability under which a frame counts as faceless.
    pub min_presence: f32,
    /// Eyes count as closed under `blink_closed × open eye openness` and open again above `blink_reopen × open
    /// eye openness`, the open value being the sequence's 75th percentile (people's open eyes differ: 0.21 to
    /// 0.36 on the test portraits).
    pub blink_closed: f32,
    pub blink_reopen: f32,
    /// Mouth counts as open at MAR ≥ `mouth_open` and at least `mouth_rise` above its starting value.
    pub mouth_open: f32,
    pub mouth_rise: f32,
    /// Head turns count beyond this yaw change from the start, degrees, as the mesh reads it. The mesh
    /// under-reads turns (synthetic 24-32° turns read 14-25°, see the crate README), so 10 is a turn of
    /// roughly 15-18°; a still photo's sway and landmark noise stay under 3.
    pub head_turn_deg: f32,
    /// Farther / closer count when the face scale changes by this factor from the action's start.
    pub scale_factor: f32,
    /// Rigid-landmark shape change between consecutive frames, in eye distances, above which a cut is assumed.
    pub max_shape_jump: f32,
    /// Face position change between consecutive frames, in eye distances per 100 ms.
    pub max_position_jump: f32,
    /// Consecutive faceless frames tolerated (blur, a hand passing).
    pub max_missing_run: usize,
    /// SFace cosine between a frame and the first frame under which the person changed.
    pub identity_cosine: f32,
    /// Minimum colour-flash correlation.
    pub colour_correlation: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_presence: 0.5,
            blink_closed: 0.75,
            blink_reopen: 0.85,
            mouth_open: 0.2,
            mouth_rise: 0.08,
            head_turn_deg: 10.0,
            scale_factor: 1.15,
            max_shape_jump: 0.12,
            max_position_jump: 1.0,
            max_missing_run: 1,
            identity_cosine: 0.45,
            colour_correlation: MIN_COLOUR_CORRELATION,
        }
    }
}

/// A per-frame signal (`None` where no face).
struct Signals {
    t: Vec<u32>,
    ear: Vec<Option<f32>>,
    mar: Vec<Option<f32>>,
    yaw: Vec<Option<f32>>,
    scale: Vec<Option<f32>>,
}

fn median(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(v[v.len() / 2])
}

fn percentile(mut v: Vec<f32>, p: f32) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(v[((v.len() - 1) as f32 * p).round() as usize])
}

/// The first frames with a face, used as the starting state.
fn start_value(s: &[Option<f32>], from: usize) -> Option<f32> {
    median(s[from..].iter().flatten().take(3).copied().collect())
}

/// Where an action completes, searching from frame `from`: (completion frame, signal value there).
fn find_action(
    a: Action,
    s: &Signals,
    from: usize,
    th: &Thresholds,
    ear_open: f32,
    yaw0: f32,
    mar0: f32,
) -> Option<usize> {
    let n = s.t.len();
    match a {
        Action::Blink => {
            let closed = th.blink_closed * ear_open;
            let reopen = th.blink_reopen * ear_open;
            let c = (from..n).find(|&i| s.ear[i].is_some_and(|e| e < closed))?;
            (c + 1..n).find(|&i| s.ear[i].is_some_and(|e| e > reopen))
        }
        Action::OpenMouth => {
            let open = th.mouth_open.max(mar0 + th.mouth_rise);
            (from..n).find(|&i| s.mar[i].is_some_and(|m| m >= open))
        }
        Action::HeadLeft => (from..n).find(|&i| s.yaw[i].is_some_and(|y| y - yaw0 >= th.head_turn_deg)),
        Action::HeadRight => (from..n).find(|&i| s.yaw[i].is_some_and(|y| yaw0 - y >= th.head_turn_deg)),
        Action::Farther | Action::Closer => {
            let start = median(s.scale[from.saturating_sub(2)..=from.min(n - 1)].iter().flatten().copied().collect())
                .or_else(|| start_value(&s.scale, from))?;
            (from..n).find(|&i| {
                s.scale[i].is_some_and(|v| {
                    if a == Action::Farther { v * th.scale_factor <= start } else { v >= start * th.scale_factor }
                })
            })
        }
    }
}

/// The extreme value of an action's signal over the whole sequence, for the record.
fn peak(a: Action, s: &Signals, yaw0: f32, scale0: f32) -> f32 {
    let vals = |v: &[Option<f32>]| v.iter().flatten().copied().collect::<Vec<f32>>();
    let fold = |v: Vec<f32>, max: bool| {
        v.into_iter().fold(if max { f32::MIN } else { f32::MAX }, |acc, x| if max { acc.max(x) } else { acc.min(x) })
    };
    match a {
        Action::Blink => fold(vals(&s.ear), false),
        Action::OpenMouth => fold(vals(&s.mar), true),
        Action::HeadLeft => fold(vals(&s.yaw), true) - yaw0,
        Action::HeadRight => yaw0 - fold(vals(&s.yaw), false),
        Action::Farther => fold(vals(&s.scale), false) / scale0.max(1e-6),
        Action::Closer => fold(vals(&s.scale), true) / scale0.max(1e-6),
    }
}

/// Decides a sequence from its analysed frames. `reference` is compared with `reference_cosine`.
pub fn decide(
    spec: &ChallengeSpec,
    obs: &[FrameObservation],
    reference: Option<&Embedding>,
    th: &Thresholds,
    reference_cosine: f32,
) -> LivenessVerdict {
    let mut reasons = Vec::new();
    let mut scores = LivenessScores {
        frames: obs.len(),
        faces: obs.iter().filter(|o| o.face.is_some()).count(),
        ..Default::default()
    };
    let Some(first) = obs.iter().position(|o| o.face.is_some()) else {
        reasons.push(Reason::new(ReasonCode::NoFace, "no face in any frame"));
        return LivenessVerdict::from_reasons(reasons, scores);
    };
    let get = |f: fn(&crate::measure::FaceMeasures) -> f32| -> Vec<Option<f32>> {
        obs.iter().map(|o| o.face.as_ref().map(|x| f(&x.measures))).collect()
    };
    let s = Signals {
        t: obs.iter().map(|o| o.t_ms).collect(),
        ear: get(|m| m.eye_openness),
        mar: get(|m| m.mar),
        yaw: get(|m| m.pose.yaw_deg),
        scale: get(|m| m.face_scale),
    };

    // Presence and continuity.
    let mut run = 0;
    let mut worst_run = 0;
    for o in &obs[first..] {
        run = if o.face.is_none() { run + 1 } else { 0 };
        worst_run = worst_run.max(run);
    }
    let trailing = obs.iter().rev().take_while(|o| o.face.is_none()).count();
    if worst_run > th.max_missing_run || trailing > th.max_missing_run {
        reasons.push(Reason::new(ReasonCode::FaceLost, format!("{worst_run} consecutive frames without a face")));
    }
    if let Some((i, o)) = obs.iter().enumerate().find(|(_, o)| o.large_faces > 1) {
        reasons.push(Reason::new(ReasonCode::MultipleFaces, format!("{} faces in frame {i}", o.large_faces)));
    }
    let mut prev: Option<(usize, &FrameObservation)> = None;
    let mut jump_reported = false;
    for (i, o) in obs.iter().enumerate() {
        let Some(face) = &o.face else { continue };
        if let Some((j, p)) = prev {
            let pf = p.face.as_ref().map(|f| (&f.mesh, f.measures.iod_px));
            if let Some((pm, iod)) = pf
                && let Some(shape) = crate::planar::shape_change(pm, &face.mesh, iod)
            {
                scores.max_shape_jump = scores.max_shape_jump.max(shape);
                let dt = (o.t_ms.saturating_sub(p.t_ms)).max(1) as f32 / 100.0;
                let (a, b) = (pm[idx::NOSE_TIP], face.mesh[idx::NOSE_TIP]);
                let pos = (a[0] - b[0]).hypot(a[1] - b[1]) / iod.max(1.0) / dt.max(1.0);
                scores.max_position_jump = scores.max_position_jump.max(pos);
                if (shape > th.max_shape_jump || pos > th.max_position_jump) && !jump_reported {
                    jump_reported = true;
                    reasons.push(Reason::new(
                        ReasonCode::Discontinuity,
                        format!("frames {j}->{i}: shape change {shape:.3}, movement {pos:.2} eye distances"),
                    ));
                }
            }
        }
        prev = Some((i, o));
    }

    // Identity.
    let embedded: Vec<(usize, &Embedding)> =
        obs.iter().enumerate().filter_map(|(i, o)| o.embedding.as_ref().map(|e| (i, e))).collect();
    if let Some((_, e0)) = embedded.first() {
        let worst = embedded.iter().map(|(i, e)| (*i, e0.cosine(e))).min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, c)) = worst {
            scores.min_identity_cosine = Some(c);
            if c < th.identity_cosine {
                reasons.push(Reason::new(
                    ReasonCode::IdentityChanged,
                    format!("frame {i} matches the first face with cosine {c:.3} (< {:.2})", th.identity_cosine),
                ));
            }
        }
    }
    if let Some(r) = reference {
        let frontal: Vec<f32> = embedded
            .iter()
            .filter(|(i, _)| s.yaw[*i].is_some_and(|y| y.abs() < 15.0))
            .map(|(_, e)| r.cosine(e))
            .collect();
        let all: Vec<f32> = embedded.iter().map(|(_, e)| r.cosine(e)).collect();
        let c = median(if frontal.is_empty() { all } else { frontal });
        scores.reference_cosine = c;
        match c {
            Some(c) if c >= reference_cosine => {}
            _ => reasons.push(Reason::new(
                ReasonCode::ReferenceMismatch,
                format!("cosine with the reference face {:.3} (< {reference_cosine:.2})", c.unwrap_or(f32::NAN)),
            )),
        }
    }

    // Actions, in order, each within its window.
    let ear_open = percentile(s.ear.iter().flatten().copied().collect(), 0.75).unwrap_or(0.0);
    let yaw0 = start_value(&s.yaw, first).unwrap_or(0.0);
    let mar0 = start_value(&s.mar, first).unwrap_or(0.0);
    let scale0 = start_value(&s.scale, first).unwrap_or(1.0);
    scores.ear_open = ear_open;
    scores.yaw_start_deg = yaw0;
    let mut cursor = first;
    let mut t_prev = s.t[first];
    let window = spec.action_window_ms + spec.frame_interval_ms;
    // Frames of the head turns, where the 3-D structure is judged.
    let mut turning = vec![false; obs.len()];
    for (k, &a) in spec.actions.iter().enumerate() {
        let found = find_action(a, &s, cursor, th, ear_open, yaw0, mar0);
        if matches!(a, Action::HeadLeft | Action::HeadRight) {
            // Until the turn completed and the user held it, or to the end when it never completed (whatever
            // the capture shows then is what was offered as the turn).
            let end = found.map_or(obs.len(), |i| (i + 4).min(obs.len()));
            turning[cursor..end].iter_mut().for_each(|f| *f = true);
        }
        let mut score =
            ActionScore { action: a, frame: found, t_ms: None, elapsed_ms: None, peak: peak(a, &s, yaw0, scale0) };
        match found {
            Some(i) => {
                let elapsed = s.t[i].saturating_sub(t_prev);
                score.t_ms = Some(s.t[i]);
                score.elapsed_ms = Some(elapsed);
                // A later action done before this one explains the delay better than slowness.
                let early = spec.actions[k + 1..]
                    .iter()
                    .find(|&&b| b != a && find_action(b, &s, cursor, th, ear_open, yaw0, mar0).is_some_and(|j| j < i));
                if elapsed > window
                    && let Some(b) = early
                {
                    reasons.push(Reason::new(
                        ReasonCode::ActionOrder,
                        format!("{} (action {}) came after {}, which should follow it", a.name(), k + 1, b.name()),
                    ));
                } else if elapsed > window {
                    reasons.push(Reason::new(
                        ReasonCode::ActionLate,
                        format!(
                            "{} (action {}) took {elapsed} ms, the window is {} ms",
                            a.name(),
                            k + 1,
                            spec.action_window_ms
                        ),
                    ));
                }
                cursor = i;
                t_prev = s.t[i];
            }
            None => {
                if let Some(i) = find_action(a, &s, first, th, ear_open, yaw0, mar0) {
                    reasons.push(Reason::new(
                        ReasonCode::ActionOrder,
                        format!(
                            "{} (action {}) was done at frame {i}, before the action it should follow",
                            a.name(),
                            k + 1
                        ),
                    ));
                } else {
                    reasons.push(Reason::new(
                        ReasonCode::ActionMissing,
                        format!("{} (action {}) not seen; peak {:.3}", a.name(), k + 1, score.peak),
                    ));
                }
            }
        }
        scores.actions.push(score);
    }

    // 3-D structure over the head movement.
    let meshes: Vec<Option<crate::planar::MeshSample<'_>>> = obs
        .iter()
        .map(|o| o.face.as_ref().map(|f| (f.mesh.as_slice(), f.measures.iod_px, f.measures.pose.yaw_deg)))
        .collect();
    scores.planarity = planarity(&meshes, &turning);
    if let Some(p) = scores.planarity.filter(|p| p.planar) {
        reasons.push(Reason::new(
            ReasonCode::PlanarMotion,
            format!(
                "the landmarks moved like a flat picture over {} frames: foreshortening {:.2} (planar at >= {:.2}), \
                 parallax share {:.2}",
                p.frames_used,
                p.foreshortening,
                crate::planar::MAX_FORESHORTENING,
                p.ratio
            ),
        ));
    }

    // Colour flash.
    if !spec.colours.is_empty() {
        let samples: Vec<_> = obs.iter().map(|o| o.face.as_ref().map(|f| f.colour)).collect();
        scores.colour = correlate(spec, &s.t, &samples);
        let problem = match scores.colour {
            None => Some("too few frames lit by the flashed colours".to_string()),
            Some(c) if c.correlation < th.colour_correlation => Some(format!(
                "face colour follows the flashes with correlation {:.2} (< {:.2})",
                c.correlation, th.colour_correlation
            )),
            Some(c) if c.lit_as_a_whole() => Some(format!(
                "the surroundings follow the flashes as much as the face (gain {:.3} vs {:.3}): a picture lit as a \
                 whole",
                c.background_gain.unwrap_or(f32::NAN),
                c.skin_gain
            )),
            Some(_) => None,
        };
        if let Some(p) = problem {
            reasons.push(Reason::new(ReasonCode::ColourMismatch, p));
        }
    }
    LivenessVerdict::from_reasons(reasons, scores)
}
