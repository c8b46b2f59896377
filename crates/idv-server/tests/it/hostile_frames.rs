//! Hostile clients on the face step: decompression bombs among the frames, captures declared as read from files,
//! retake answers that would leak the measured values, and a live face that is not the reference person.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use idv_flow::RetakeReason;
use serde_json::{Value, json};

use crate::helpers::{
    Device, META_ANDROID, call, face_b64, genuine_face_round, init_params, live_frames, map, no_face_b64, round_body,
    start, start_with,
};

/// Set in the child process that runs the bomb round alone (see [`bomb_round_stays_within_a_memory_budget`]).
const BOMB_CHILD_ENV: &str = "IDV_TEST_BOMB_CHILD";
/// Peak resident memory allowed to the whole child process: the server with its engines, the test's own engines
/// rendering the live frames, and both rounds. A server that decodes the bomb round to full size needs ~12 GiB.
const BOMB_RSS_BUDGET_KIB: u64 = 1024 * 1024;
/// Frames in the bomb round, the device API's maximum; all but `REAL_FRAMES` are bombs.
const BOMB_ROUND_FRAMES: usize = 120;
const REAL_FRAMES: usize = 5;
/// Side of the grey bomb canvas: 36 Mpx (108 MB as RGB) in a ~35 KB PNG.
const BOMB_SIDE: u32 = 6000;

fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

/// A uniform grey PNG of `side` x `side` pixels: tiny on the wire, huge once decoded.
fn bomb_png(side: u32) -> Vec<u8> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let img = image::GrayImage::from_pixel(side, side, image::Luma([128]));
    let mut out = Vec::new();
    // Best compression: every filtered row is zeros, which deflate shrinks about a thousandfold.
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Up)
        .write_image(img.as_raw(), side, side, image::ExtendedColorType::L8)
        .unwrap();
    out
}

/// `VmHWM` (peak resident set size) of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The bomb round runs in a child process of its own: `VmHWM` is per process, and the other tests of this binary
/// run in parallel threads with their own servers and engines, so an in-process reading would measure them too.
/// The child is this test binary re-invoked on [`bomb_round_child`] alone, with [`BOMB_CHILD_ENV`] set.
#[test]
fn bomb_round_stays_within_a_memory_budget() {
    let out = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "hostile_frames::bomb_round_child", "--nocapture", "--test-threads", "1"])
        .env(BOMB_CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // Bounded wait (10 minutes, far above the ~30 s the child needs on a loaded machine); no timing is asserted.
    let mut status = None;
    for _ in 0..6000 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the bomb round's child process did not finish")
    });
    let read = |p: &std::path::Path| {
        let mut s = String::new();
        std::fs::File::open(p).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let (o, e) = (read(&stdout), read(&stderr));
    println!("{o}");
    assert!(status.success(), "child failed ({status}):\n{o}\n{e}");
    assert!(o.contains("bomb round peak RSS"), "the child did not run the bomb round:\n{o}\n{e}");
}

/// The bomb round itself: a clear retake, the server still verifies a genuine capture afterwards, and the process'
/// peak RSS stays under [`BOMB_RSS_BUDGET_KIB`]. A watchdog ends the process as soon as the budget is crossed, so a
/// server that decodes the bombs fails here instead of taking the machine's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bomb_round_child() {
    if std::env::var_os(BOMB_CHILD_ENV).is_none() {
        return; // run by bomb_round_stays_within_a_memory_budget, in a process of its own
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = done.clone();
    std::thread::spawn(move || {
        // Bounded: at most 10 minutes of polling, the parent's wait.
        for _ in 0..60_000 {
            if watch.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let peak = peak_rss_kib();
            if peak > BOMB_RSS_BUDGET_KIB {
                eprintln!("peak RSS {peak} KiB is over the budget of {BOMB_RSS_BUDGET_KIB} KiB: frames decoded whole");
                std::process::exit(3);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let s = start().await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    let bomb = b64(&bomb_png(BOMB_SIDE));
    let interval = next["challenge"]["frame_interval_ms"].as_u64().unwrap();
    let real = live_frames("astronaut.png", &next["challenge"], 1);
    let frames: Vec<Value> = (0..BOMB_ROUND_FRAMES)
        .map(|i| {
            let image = if i < REAL_FRAMES { real[i]["image"].clone() } else { json!(bomb) };
            json!({"image": image, "t_ms": i as u64 * interval})
        })
        .collect();
    let body = json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames,
                      "capture": {"source": "file"}});
    println!("bomb frame {} bytes, round body {} bytes", bomb.len() * 3 / 4, serde_json::to_vec(&body).unwrap().len());
    let (st, v) = dev.post("round", &body).await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("retake")), "{v}");
    assert_eq!(v["reason_code"], RetakeReason::CaptureOverBudget.code(), "{v}");
    assert_eq!(v["reason"], RetakeReason::CaptureOverBudget.message(), "{v}");

    // The server still verifies a genuine capture, in the same transaction, with the new challenge.
    let next = v["next"].clone();
    let (st, v) = genuine_face_round(&dev, &next, "astronaut.png", 1, json!({"capture": {"source": "file"}})).await;
    assert_eq!((st, &v), (200, &json!({"outcome": "done", "result_code": 1000})), "{v}");
    let c = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(c.json["Result"]["Passed"], "Y", "{}", c.json);
    s.stop().await;

    let peak = peak_rss_kib();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    println!("bomb round peak RSS {peak} KiB (budget {BOMB_RSS_BUDGET_KIB} KiB)");
    assert!(peak <= BOMB_RSS_BUDGET_KIB, "peak RSS {peak} KiB over the budget of {BOMB_RSS_BUDGET_KIB} KiB");
}

#[tokio::test]
async fn file_captures_are_refused_outside_test_mode() {
    let s = start_with(tempfile::tempdir().unwrap(), |c| c.test_mode = false).await;
    let m = s.merchant("A").await;
    let (mut dev, _) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    let (st, v) = dev.post("round", &round_body(&next, &no_face_b64(), 2)).await;
    assert_eq!((st, v["code"].as_str(), v["result_code"].as_u64()), (400, Some("BadRequest"), Some(1004)), "{v}");
    assert!(v["message"].as_str().unwrap().contains("test mode"), "{v}");
    // A camera capture of the same round is taken (and refused for what it shows, not for where it came from).
    let mut camera = round_body(&next, &no_face_b64(), 2);
    camera["capture"] = json!({"source": "front", "width": 320, "height": 240});
    let (st, v) = dev.post("round", &camera).await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("retake")), "{v}");
    s.stop().await;
}

#[tokio::test]
async fn retake_answers_carry_a_code_and_a_fixed_sentence_without_measurements() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (mut dev, _) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    // Two genuine frames: a usable selfie, but too few frames for the liveness check, whose own detail names the
    // counts ("2 frames, at least N needed").
    let frames: Vec<Value> = live_frames("astronaut.png", &next["challenge"], 1).into_iter().take(2).collect();
    let body = json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames,
                      "capture": {"source": "file"}});
    let (st, v) = dev.post("round", &body).await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("retake")), "{v}");
    let code = v["reason_code"].as_str().unwrap();
    let reason = RetakeReason::ALL.into_iter().find(|r| r.code() == code).expect("a documented retake code");
    assert_eq!(reason, RetakeReason::LivenessTooFewFrames, "{v}");
    assert_eq!(v["reason"], reason.message(), "{v}");
    for r in RetakeReason::ALL {
        assert!(!r.message().contains(|c: char| c.is_ascii_digit()), "{r:?}: {}", r.message());
    }
    s.stop().await;
}

#[tokio::test]
async fn liveness_checks_the_live_face_against_the_merchant_reference() {
    let s = start().await;
    let m = s.merchant("A").await;
    // Reference: Grace Hopper; the live head in front of the camera: the astronaut.
    let body = map(&[("FacePictureBase64", face_b64("grace_hopper.jpg").as_str())]);
    let (mut dev, tid) = Device::initialized(&s, &m, &init_params("FACE_LIVENESS", META_ANDROID), &body).await;
    let next = dev.start().await["next"].clone();
    let (st, done) = genuine_face_round(&dev, &next, "astronaut.png", 1, json!({"capture": {"source": "file"}})).await;
    assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
    let c = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(c.json["Result"]["Passed"], "N", "{}", c.json);
    let face: Value = serde_json::from_str(c.json["Result"]["ExtFaceInfo"].as_str().unwrap()).unwrap();
    let reasons = face["livenessReasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r.as_str().is_some_and(|r| r.starts_with("reference_mismatch"))),
        "the liveness check compared the live face with the reference: {face}"
    );
    s.stop().await;
}
