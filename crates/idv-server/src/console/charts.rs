//! The console's charts, drawn here as inline SVG (no script, no third-party request): the liveness action
//! timeline of a transaction, and the summary page's pass rate, failure reasons, drop-off and time per step.

use std::collections::BTreeMap;
use std::fmt::Write;

use idv_flow::ChallengeRecord;
use idv_store::{ConsoleSummary, TxState};

use super::esc;
use super::evidence::Filmstrip;

const W: f64 = 640.0;

/// What was asked when, and when it was seen: one row per action, the cue, its window and the completion.
pub(crate) fn timeline(c: &ChallengeRecord, scores: &serde_json::Value, strip: Option<&Filmstrip>) -> String {
    let actions = scores["actions"].as_array().cloned().unwrap_or_default();
    let mut end: f64 = 1000.0;
    for a in &actions {
        for v in [&a["window_ms"][1], &a["t_ms"]] {
            end = end.max(v.as_f64().unwrap_or(0.0));
        }
    }
    for cue in &c.cues_ms {
        end = end.max(f64::from(*cue) + f64::from(c.action_window_ms));
    }
    if let Some(s) = strip {
        for f in &s.frames {
            end = end.max(f64::from(f.2));
        }
    }
    let (left, right) = (110.0, 20.0);
    let x = |ms: f64| left + (W - left - right) * ms / end;
    let row_h = 26.0;
    let h = 40.0 + row_h * c.actions.len() as f64;
    let mut s = format!(
        "<svg class=\"chart\" id=\"timeline\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"action timeline\">"
    );
    // Axis in seconds.
    let step = if end > 8000.0 { 2000.0 } else { 1000.0 };
    let mut t = 0.0;
    while t <= end {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" y1=\"20\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{0:.1}\" y=\"14\" \
             font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">{2}s</text>",
            x(t),
            h - 10.0,
            t / 1000.0
        );
        t += step;
    }
    if let Some(strip) = strip {
        for f in &strip.frames {
            let _ = write!(
                s,
                "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#90a4ae\"/>",
                x(f64::from(f.2)),
                h - 14.0,
                h - 6.0
            );
        }
    }
    for (i, name) in c.actions.iter().enumerate() {
        let y = 30.0 + row_h * i as f64;
        let a = actions.get(i).cloned().unwrap_or_default();
        let _ = write!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"11\" fill=\"#222\">{}</text>", y + 12.0, esc(name));
        if let (Some(w0), Some(w1)) = (a["window_ms"][0].as_f64(), a["window_ms"][1].as_f64()) {
            let _ = write!(
                s,
                "<rect class=\"window\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"#e3f2fd\" stroke=\"#90caf9\"/>",
                x(w0),
                y + 2.0,
                (x(w1) - x(w0)).max(1.0)
            );
        }
        let cue = a["cue_ms"].as_f64().or(c.cues_ms.get(i).map(|v| f64::from(*v)));
        if let Some(cue) = cue {
            let _ = write!(
                s,
                "<path class=\"cue\" d=\"M{0:.1} {1:.1} l5 -8 h-10 z\" fill=\"#1565c0\"><title>asked at {2} ms</title></path>",
                x(cue),
                y + 10.0,
                cue
            );
        }
        match a["t_ms"].as_f64() {
            Some(seen) => {
                let _ = write!(
                    s,
                    "<circle class=\"seen\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"#2e7d32\"><title>seen at {seen} ms</title></circle>",
                    x(seen),
                    y + 9.0
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#c62828\">not seen</text>",
                    W - 70.0,
                    y + 12.0
                );
            }
        }
    }
    s.push_str("</svg><p class=\"legend\">▼ asked · ▭ window · ● seen · | frames kept</p>");
    s
}

/// The summary page's figures, from the store's counts and flow logs.
pub(crate) struct Figures {
    pub(crate) total: usize,
    days: Vec<(i64, i64, i64)>,
    failures: Vec<(String, i64)>,
    dropoff: Vec<(String, i64)>,
    step_time: Vec<(String, f64, usize)>,
}

fn median(v: &mut [i64]) -> f64 {
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0,
    }
}

/// Where a flow that did not finish stopped, in the terms of its rounds.
pub(crate) fn stopped_at(f: &idv_store::FlowLog) -> Option<String> {
    if !matches!(f.state, TxState::Expired | TxState::Cancelled) {
        return None;
    }
    Some(match (f.started_at, f.rounds.last()) {
        (None, None) => "never opened".into(),
        (Some(_), None) => "opened, nothing captured".into(),
        (_, Some(r)) if r.outcome == "next" => format!("after {}", r.step),
        (_, Some(r)) => format!("during {} (retake)", r.step),
    })
}

impl Figures {
    pub(crate) fn of(s: &ConsoleSummary, first_day: i64, last_day: i64) -> Figures {
        let by_day: BTreeMap<i64, (i64, i64)> = s.days.iter().map(|d| (d.day, (d.passed, d.failed))).collect();
        let days = (first_day..=last_day)
            .map(|d| {
                let (p, f) = by_day.get(&d).copied().unwrap_or((0, 0));
                (d, p, f)
            })
            .collect();
        let mut drop: BTreeMap<String, i64> = BTreeMap::new();
        let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for f in &s.flows {
            if let Some(at) = stopped_at(f) {
                *drop.entry(at).or_default() += 1;
            }
            let mut since = f.started_at.unwrap_or(f.created_at);
            for r in &f.rounds {
                times.entry(r.step.clone()).or_default().push((r.at - since).max(0));
                since = r.at;
            }
        }
        let mut dropoff: Vec<(String, i64)> = drop.into_iter().collect();
        dropoff.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let order = |s: &str| ["DOC_FRONT", "DOC_BACK", "FACE"].iter().position(|x| *x == s).unwrap_or(9);
        let mut step_time: Vec<(String, f64, usize)> =
            times.into_iter().map(|(k, mut v)| (k, median(&mut v), v.len())).collect();
        step_time.sort_by_key(|(k, _, _)| order(k));
        Figures { total: s.flows.len(), days, failures: s.failures.clone(), dropoff, step_time }
    }

    pub(crate) fn pass_rate_svg(&self) -> String {
        let h = 200.0;
        let (left, bottom, top) = (40.0, 30.0, 10.0);
        let n = self.days.len().max(1) as f64;
        let bw = (W - left - 10.0) / n;
        let y = |rate: f64| top + (h - top - bottom) * (1.0 - rate);
        let mut s = format!(
            "<svg class=\"chart\" id=\"pass-rate\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"pass rate per day\">"
        );
        for pct in [0.0, 0.5, 1.0] {
            let _ = write!(
                s,
                "<line x1=\"{left}\" x2=\"{W}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/><text x=\"{1}\" y=\"{2:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">{3}%</text>",
                y(pct),
                left - 4.0,
                y(pct) + 3.0,
                (pct * 100.0) as i64
            );
        }
        let mut points = Vec::new();
        for (i, (day, p, f)) in self.days.iter().enumerate() {
            let cx = left + bw * (i as f64 + 0.5);
            if p + f > 0 {
                let rate = *p as f64 / (p + f) as f64;
                points.push(format!("{cx:.1},{:.1}", y(rate)));
                let _ = write!(
                    s,
                    "<circle class=\"day\" cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#1565c0\"><title>{}: {p} passed, {f} failed</title></circle>",
                    y(rate),
                    day_label(*day)
                );
            }
            if self.days.len() <= 10 || i % (self.days.len() / 6).max(1) == 0 {
                let _ = write!(
                    s,
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
                    h - 12.0,
                    &day_label(*day)[5..]
                );
            }
        }
        if points.len() > 1 {
            let _ = write!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\"/>",
                points.join(" ")
            );
        }
        if points.is_empty() {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#555\">no finished transactions</text>",
                W / 2.0,
                h / 2.0
            );
        }
        s.push_str("</svg>");
        s
    }

    fn bars(id: &str, label: &str, rows: &[(String, f64, String)]) -> String {
        let row_h = 24.0;
        let h = 10.0 + row_h * rows.len().max(1) as f64;
        let left = 230.0;
        let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
        let mut s =
            format!("<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{label}\">");
        if rows.is_empty() {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"20\" font-size=\"12\" text-anchor=\"middle\" fill=\"#555\">nothing to show</text>",
                W / 2.0
            );
        }
        for (i, (name, v, shown)) in rows.iter().enumerate() {
            let y = 5.0 + row_h * i as f64;
            let w = (W - left - 150.0) * v / max;
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#222\">{}</text>\
                 <rect class=\"bar\" x=\"{left}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"16\" fill=\"#5c6bc0\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#222\">{}</text>",
                left - 6.0,
                y + 12.0,
                esc(name),
                w.max(1.0),
                left + w + 6.0,
                y + 12.0,
                esc(shown)
            );
        }
        s.push_str("</svg>");
        s
    }

    pub(crate) fn failures_svg(&self) -> String {
        let rows: Vec<(String, f64, String)> = self
            .failures
            .iter()
            .map(|(code, n)| (format!("{code} {}", sub_code_meaning(code)), *n as f64, n.to_string()))
            .collect();
        Self::bars("failures", "failure reasons", &rows)
    }

    pub(crate) fn dropoff_svg(&self) -> String {
        let rows: Vec<(String, f64, String)> =
            self.dropoff.iter().map(|(k, n)| (k.clone(), *n as f64, n.to_string())).collect();
        Self::bars("dropoff", "drop-off step", &rows)
    }

    pub(crate) fn step_time_svg(&self) -> String {
        let rows: Vec<(String, f64, String)> =
            self.step_time.iter().map(|(k, m, n)| (k.clone(), *m, format!("{m:.0} s ({n} rounds)"))).collect();
        Self::bars("step-time", "median time per step", &rows)
    }
}

fn day_label(day: i64) -> String {
    super::pages::when(day * 86_400)[..10].to_owned()
}

fn sub_code_meaning(code: &str) -> &'static str {
    match code {
        "201" => "document invalid",
        "202" => "document expired",
        "203" => "no reference face",
        "204" => "face mismatch",
        "205" => "liveness failed",
        "207" => "timed out",
        "208" => "cancelled",
        "209" => "unusable captures",
        "210" => "check unavailable",
        "211" => "duplicate face",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idv_store::{DayCount, FlowLog, RoundSummary};

    fn flow(state: TxState, started: Option<i64>, rounds: &[(&str, &str, i64)]) -> FlowLog {
        FlowLog {
            transaction_id: "t".into(),
            state,
            created_at: 0,
            started_at: started,
            rounds: rounds
                .iter()
                .enumerate()
                .map(|(i, (step, outcome, at))| RoundSummary {
                    round: i as u32 + 1,
                    step: (*step).into(),
                    outcome: (*outcome).into(),
                    at: *at,
                })
                .collect(),
        }
    }

    #[test]
    fn drop_off_and_median_times_come_from_the_rounds() {
        let s = ConsoleSummary {
            days: vec![DayCount { day: 10, passed: 3, failed: 1 }],
            failures: vec![("204".into(), 1)],
            flows: vec![
                flow(TxState::Completed, Some(10), &[("DOC_FRONT", "next", 20), ("FACE", "done", 50)]),
                flow(TxState::Completed, Some(0), &[("DOC_FRONT", "next", 30), ("FACE", "done", 40)]),
                flow(TxState::Expired, Some(0), &[("DOC_FRONT", "next", 5)]),
                flow(TxState::Cancelled, Some(0), &[("DOC_FRONT", "retake:DOC_UNREADABLE", 7)]),
                flow(TxState::Expired, None, &[]),
            ],
        };
        let f = Figures::of(&s, 9, 10);
        assert_eq!(f.days, [(9, 0, 0), (10, 3, 1)]);
        let drop: BTreeMap<_, _> = f.dropoff.iter().cloned().collect();
        assert_eq!(drop["after DOC_FRONT"], 1);
        assert_eq!(drop["during DOC_FRONT (retake)"], 1);
        assert_eq!(drop["never opened"], 1);
        assert_eq!(drop.len(), 3, "finished flows did not drop off: {drop:?}");
        // DOC_FRONT took 10, 30, 5, 7 s: median 8.5; FACE 30 and 10: median 20.
        assert_eq!(f.step_time, [("DOC_FRONT".into(), 8.5, 4), ("FACE".into(), 20.0, 2)]);
        assert!(f.pass_rate_svg().contains("3 passed, 1 failed"));
        assert!(f.failures_svg().contains("204 face mismatch"));
    }
}
