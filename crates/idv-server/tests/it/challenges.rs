//! Unpredictable challenges through the device flow: the default model asks for one to three blinks, each at a
//! cue drawn per round; a live head following the cues passes, and a capture made for another session's cues
//! is not accepted.

use serde_json::Value;

use crate::helpers::{Device, META_ANDROID, Merchant, Server, call, init_params, live_frames, map, start};

fn cues(c: &Value) -> Vec<u64> {
    c["cues_ms"].as_array().expect("cues_ms").iter().map(|v| v.as_u64().unwrap()).collect()
}

/// A started FACE_LIVENESS transaction of the default model: the device, its first instruction, the id.
async fn open(s: &Server, m: &Merchant) -> (Device, Value, String) {
    let (mut dev, tid) = Device::initialized(s, m, &init_params("FACE_LIVENESS", META_ANDROID), &map(&[])).await;
    let next = dev.start().await["next"].clone();
    (dev, next, tid)
}

async fn submit(dev: &Device, next: &Value, frames: Vec<Value>) -> Value {
    let body = serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames});
    let (st, answer) = dev.post("round", &body).await;
    assert_eq!(st, 200, "{answer}");
    answer
}

/// True when no blink made for `recorded`'s cues can land in one of `asked`'s windows: a recorded blink
/// completes 550-1000 ms after its cue (idv-eval's genuine script), a window spans 300-1600 ms after its cue
/// (with a frame's grace). Chance alone lets about one replay in five through (see idv-liveness's
/// `chance_rate_of_a_replayed_default_capture`), so the test picks a challenge where the outcome is certain.
/// The recording must also end within the time `asked` allows (its last window plus one window), or the
/// engine sees an implausible duration, an attack, before it looks at the actions.
fn surely_missed(recorded: &[u64], asked: &[u64]) -> bool {
    let fits = recorded.last().unwrap() <= &(asked.last().unwrap() + 1500);
    fits && asked.iter().any(|&b| recorded.iter().all(|&a| a + 1000 < b + 300 || a + 550 > b + 1600))
}

#[tokio::test]
async fn default_challenges_are_unpredictable_and_bind_the_capture_to_its_cues() {
    let s = start().await;
    let m = s.merchant("A").await;

    // Session A: the issued challenge is blinks at cues; a live head following them passes. A one-blink
    // challenge is taken (a third of them are), so that most of B's draws can be one its capture surely misses;
    // a three-blink recording outlasts most challenges, and the test would hang on chance.
    let mut counts = Vec::new();
    let (dev, next, tid) = loop {
        let opened = open(&s, &m).await;
        let n = opened.1["challenge"]["actions"].as_array().map_or(0, Vec::len);
        counts.push(n);
        if n == 1 {
            break opened;
        }
        assert!(counts.len() < 40, "40 default challenges and none of one blink: {counts:?}");
    };
    assert!(counts.iter().all(|n| (1..=3).contains(n)), "{counts:?}");
    let a = next["challenge"].clone();
    let actions = a["actions"].as_array().unwrap();
    assert!((1..=3).contains(&actions.len()) && actions.iter().all(|x| x == "blink"), "{a}");
    let a_cues = cues(&a);
    assert_eq!(a_cues.len(), actions.len(), "{a}");
    assert!(a_cues.windows(2).all(|w| w[1] >= w[0] + a["action_window_ms"].as_u64().unwrap()), "{a}");
    let last_window_end = a_cues.last().unwrap() + a["action_window_ms"].as_u64().unwrap();
    assert!(next["frames_wanted"].as_u64().unwrap() * 100 >= last_window_end, "frames cover the last window: {next}");
    let done = submit(&dev, &next, live_frames("astronaut.png", &a, 61)).await;
    assert_eq!(done["outcome"], "done", "{done}");
    let c = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(c.json["Result"]["Passed"], "Y", "{}", c.json);

    // Session B, same user: a capture made for A's cues (another take of it, so that the byte digests and the
    // capture fingerprint do not decide first) misses B's windows and is not accepted.
    let mut seen = Vec::new();
    for attempt in 0..40 {
        let (dev, next, _) = open(&s, &m).await;
        let b = next["challenge"].clone();
        seen.push(cues(&b));
        if !surely_missed(&a_cues, &cues(&b)) {
            continue;
        }
        let answer = submit(&dev, &next, live_frames("astronaut.png", &a, 62 + attempt)).await;
        assert_eq!(answer["outcome"], "retake", "A's capture must not pass B's challenge {b}: {answer}");
        let code = answer["reason_code"].as_str().unwrap();
        assert!(
            ["LIVENESS_ACTION_MISSING", "LIVENESS_ACTION_LATE", "LIVENESS_ACTION_ORDER"].contains(&code),
            "a challenge reason, not an attack: {answer}"
        );
        assert_ne!(answer["next"]["challenge"], b, "the retake comes with a new challenge");
        s.stop().await;
        return;
    }
    panic!("no challenge out of 40 differed enough from A's cues {a_cues:?}: {seen:?}");
}
