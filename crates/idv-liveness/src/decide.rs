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

/// Frames at which action `a` completes, in order, searching from frame `from` (the frame at its cue): a blink
/// each time the eyes close and reopen; the other actions each time their condition becomes true, so a state
/// already held at `from` counts only once it was left (a movement made before the cue and still held is not
/// an answer to it).
fn completions(
    a: Action,
    s: &Signals,
    from: usize,
    th: &Thresholds,
    ear_open: f32,
    yaw0: f32,
    mar0: f32,
) -> Vec<usize> {
    let n = s.t.len();
    let mut out = Vec::new();
    if a == Action::Blink {
        let (closed, reopen) = (th.blink_closed * ear_open, th.blink_reopen * ear_open);
        let mut shut = false;
        for i in from..n {
            match s.ear[i] {
                Some(e) if e < closed => shut = true,
                Some(e) if shut && e > reopen => {
                    out.push(i);
                    shut = false;
                }
                _ => {}
            }
        }
        return out;
    }
    let scale_start = median(s.scale[from.saturating_sub(2)..=from.min(n - 1)].iter().flatten().copied().collect())
        .or_else(|| start_value(&s.scale, from));
    let open = th.mouth_open.max(mar0 + th.mouth_rise);
    // `None` where the frame has no face: a frame lost mid-movement neither ends nor starts one.
    let holds = |i: usize| -> Option<bool> {
        match a {
            Action::Blink => None,
            Action::OpenMouth => s.mar[i].map(|m| m >= open),
            Action::HeadLeft => s.yaw[i].map(|y| y - yaw0 >= th.head_turn_deg),
            Action::HeadRight => s.yaw[i].map(|y| yaw0 - y >= th.head_turn_deg),
            Action::Farther => Some(s.scale[i]? * th.scale_factor <= scale_start?),
            Action::Closer => Some(s.scale[i]? >= scale_start? * th.scale_factor),
        }
    };
    let mut prev = None;
    for i in from..n {
        let Some(h) = holds(i) else { continue };
        // The first measured frame only sets the state: what it already shows was not done after the cue.
        if h && prev == Some(false) {
            out.push(i);
        }
        prev = Some(h);
    }
    out
}

/// Judges action `k` from its completions, ms after the first frame: `done` from its cue on, `all` over the
/// whole capture (only needed when none in `done` is inside the window). Returns the completion to record
/// (the one inside the window, or the first after it opened) and the reason when it was not inside.
fn judge_action(spec: &ChallengeSpec, k: usize, done: &[u32], all: &[u32], peak: f32) -> (Option<u32>, Option<Reason>) {
    let a = spec.actions[k];
    let (lo, hi) = spec.window(k);
    let cue = spec.cues_ms[k];
    if let Some(&ms) = done.iter().find(|&&ms| spec.in_window(k, ms)) {
        return (Some(ms), None);
    }
    let window_of = |ms: u32| (0..spec.actions.len()).find(|&j| spec.in_window(j, ms));
    let what = format!("{} (action {}, cue at {cue} ms, window {lo}-{hi} ms)", a.name(), k + 1);
    if let Some(&at) = done.iter().find(|&&ms| ms >= lo) {
        let reason = match window_of(at) {
            // Another action's window: the user did them in another order.
            Some(j) if spec.actions[j] != a => Reason::new(
                ReasonCode::ActionOrder,
                format!("{what} was done at {at} ms, in the window of action {} ({})", j + 1, spec.actions[j].name()),
            ),
            // The same action's next cue: this one was skipped.
            Some(j) => Reason::new(
                ReasonCode::ActionMissing,
                format!("{what} not seen in its window; the next one came at {at} ms, answering action {}", j + 1),
            ),
            None => Reason::new(
                ReasonCode::ActionLate,
                format!(
                    "{what} completed at {at} ms, {} ms after its cue (at most {})",
                    at - cue,
                    spec.action_window_ms
                ),
            ),
        };
        return (Some(at), Some(reason));
    }
    // Done before its window opened: in another action's window (the order), or too early to answer this cue (a
    // capture made for other cues, or a movement under way before the cue).
    let early: Vec<u32> = all.iter().copied().filter(|&ms| ms < lo).collect();
    let order = early.iter().find_map(|&ms| window_of(ms).filter(|&j| spec.actions[j] != a).map(|j| (ms, j)));
    let reason = if let Some((at, j)) = order {
        Reason::new(
            ReasonCode::ActionOrder,
            format!(
                "{what} was done at {at} ms, in the window of action {} ({}), before its own",
                j + 1,
                spec.actions[j].name()
            ),
        )
    } else if let Some(at) = early.iter().rev().copied().find(|&ms| window_of(ms).is_none()) {
        Reason::new(
            ReasonCode::ActionMissing,
            format!("{what} not seen in its window; completed at {at} ms, before it opened"),
        )
    } else {
        Reason::new(ReasonCode::ActionMissing, format!("{what} not seen; peak {peak:.3}"))
    };
    (None, Some(reason))
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

    // Actions, each inside its window: from its cue plus a reaction time to its cue plus the window, on the
    // flash colours' clock (ms after the first frame). A capture made for other cues misses the windows.
    let ear_open = percentile(s.ear.iter().flatten().copied().collect(), 0.75).unwrap_or(0.0);
    let yaw0 = start_value(&s.yaw, first).unwrap_or(0.0);
    let mar0 = start_value(&s.mar, first).unwrap_or(0.0);
    let scale0 = start_value(&s.scale, first).unwrap_or(1.0);
    scores.ear_open = ear_open;
    scores.yaw_start_deg = yaw0;
    let t0 = s.t[0];
    let rel = |i: usize| s.t[i] - t0;
    // The frame at or after a time on the challenge's clock (the last frame when the capture ended before it).
    let frame_at = |ms: u32| s.t.partition_point(|&t| t < t0 + ms).min(obs.len() - 1).max(first);
    // Frames of the head turns, where the 3-D structure is judged.
    let mut turning = vec![false; obs.len()];
    let mut prev_end = first;
    for (k, &a) in spec.actions.iter().enumerate() {
        let (lo, hi) = spec.window(k);
        let from = frame_at(spec.cues_ms[k]);
        let done = completions(a, &s, from, th, ear_open, yaw0, mar0);
        let inside = done.iter().copied().find(|&i| spec.in_window(k, rel(i)));
        if matches!(a, Action::HeadLeft | Action::HeadRight) {
            // From the end of the previous window until the turn completed and the user held it, or to the end
            // when it never completed in its window (whatever the capture shows then is what was offered as the
            // turn).
            let end = inside.map_or(obs.len(), |i| (i + 4).min(obs.len()));
            turning[prev_end.min(end)..end].iter_mut().for_each(|f| *f = true);
        }
        prev_end = frame_at(hi);
        let peak = peak(a, &s, yaw0, scale0);
        let before: Vec<u32> = match inside {
            Some(_) => Vec::new(),
            None => completions(a, &s, first, th, ear_open, yaw0, mar0).into_iter().map(rel).collect(),
        };
        let done_ms: Vec<u32> = done.iter().map(|&i| rel(i)).collect();
        let (shown, reason) = judge_action(spec, k, &done_ms, &before, peak);
        let frame = shown.and_then(|ms| done.iter().copied().find(|&i| rel(i) == ms));
        scores.actions.push(ActionScore {
            action: a,
            cue_ms: spec.cues_ms[k],
            window_ms: (lo, hi),
            frame,
            t_ms: frame.map(|i| s.t[i]),
            elapsed_ms: shown.map(|ms| ms.saturating_sub(spec.cues_ms[k])),
            peak,
        });
        reasons.extend(reason);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(actions: Vec<Action>, cues_ms: Vec<u32>) -> ChallengeSpec {
        ChallengeSpec {
            actions,
            cues_ms,
            colours: Vec::new(),
            colour_ms: 0,
            frame_interval_ms: 100,
            action_window_ms: 1500,
        }
    }

    fn code(r: &(Option<u32>, Option<Reason>)) -> Option<ReasonCode> {
        r.1.as_ref().map(|r| r.code)
    }

    #[test]
    fn each_action_is_searched_only_inside_its_window() {
        let two = spec(vec![Action::Blink, Action::Blink], vec![1000, 3500]);
        // Windows: 1300-2500 (+100 grace) and 3800-5000 (+100).
        assert_eq!(judge_action(&two, 0, &[1800, 4200], &[], 0.0), (Some(1800), None));
        assert_eq!(judge_action(&two, 0, &[2600], &[], 0.0).0, Some(2600), "the grace frame counts");
        assert_eq!(code(&judge_action(&two, 0, &[1200, 1800], &[], 0.0)), None, "a too-fast one is skipped");
        // Late, outside any window: action_late with the measured reaction and the window.
        let late = judge_action(&two, 0, &[3000], &[], 0.0);
        assert_eq!(code(&late), Some(ReasonCode::ActionLate));
        let detail = &late.1.unwrap().detail;
        assert!(
            detail.contains("3000 ms, 2000 ms after its cue (at most 1500)") && detail.contains("1300-2500"),
            "{detail}"
        );
        // The first blink skipped, the second done: missing, not late.
        assert_eq!(code(&judge_action(&two, 0, &[4200], &[4200], 0.0)), Some(ReasonCode::ActionMissing));
        // Done just before the window opened (a capture made for earlier cues).
        let early = judge_action(&two, 0, &[1150], &[1150], 0.0);
        assert_eq!(early, (None, early.1.clone()));
        assert!(early.1.unwrap().detail.contains("completed at 1150 ms, before it opened"));
        assert_eq!(code(&judge_action(&two, 1, &[], &[1800], 0.0)), Some(ReasonCode::ActionMissing));
        // Another action in this action's window, or this one in another's: the order.
        let turns = spec(vec![Action::HeadLeft, Action::HeadRight], vec![1000, 3500]);
        assert_eq!(code(&judge_action(&turns, 0, &[4000], &[4000], 0.0)), Some(ReasonCode::ActionOrder));
        assert_eq!(code(&judge_action(&turns, 1, &[], &[1700], 0.0)), Some(ReasonCode::ActionOrder));
    }

    #[test]
    fn completions_need_a_change_after_the_cue() {
        let n = 12;
        let yaw: Vec<Option<f32>> =
            [0.0, 12.0, 12.0, 0.0, 0.0, 11.0, 12.0, 0.0, 0.0, 0.0, 13.0, 13.0].map(Some).to_vec();
        let mut ear = vec![Some(0.3); n];
        ear[4] = Some(0.1);
        ear[5] = None;
        ear[9] = Some(0.1);
        let s = Signals {
            t: (0..n as u32).map(|i| i * 100).collect(),
            ear,
            mar: vec![Some(0.1); n],
            yaw,
            scale: vec![Some(0.2); n],
        };
        let th = Thresholds::default();
        let c = |a, from| completions(a, &s, from, &th, 0.3, 0.0, 0.1);
        assert_eq!(c(Action::HeadLeft, 0), vec![1, 5, 10]);
        // A turn already held at the cue frame is not an answer to it.
        assert_eq!(c(Action::HeadLeft, 1), vec![5, 10]);
        assert_eq!(c(Action::HeadRight, 0), Vec::<usize>::new());
        // Blinks: closed, then open again; a faceless frame in between changes nothing.
        assert_eq!(c(Action::Blink, 0), vec![6, 10]);
        assert_eq!(c(Action::Blink, 7), vec![10]);
    }
}
