//! 1:N search latency and memory of the exact face index at 10k, 100k and 1M faces (random 128-d unit vectors:
//! search cost does not depend on what the vectors look like), one core.
//!
//!   cargo run --release -p idv-face --example face_index_bench

use std::time::Instant;

use idv_face::index::{ExactIndex, FaceIndex};

fn main() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut unit = || {
        let v: Vec<f32> = (0..128).map(|_| next()).collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.into_iter().map(|a| a / n).collect::<Vec<f32>>()
    };
    println!("| faces | search p50 ms | search p99 ms | bytes per face | index MB |");
    println!("|---|---|---|---|---|");
    for n in [10_000usize, 100_000, 1_000_000] {
        let mut ix = ExactIndex::with_capacity(n);
        for i in 0..n {
            ix.insert(i as u64, &unit());
        }
        let probes: Vec<Vec<f32>> = (0..if n >= 1_000_000 { 30 } else { 200 }).map(|_| unit()).collect();
        let mut ms: Vec<f64> = probes
            .iter()
            .map(|p| {
                let t = Instant::now();
                std::hint::black_box(ix.search(p, 5, 0.5));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {n} | {:.3} | {:.3} | {} | {:.0} |",
            q(0.5),
            q(0.99),
            ix.bytes_per_face(),
            (ix.bytes_per_face() * n) as f64 / 1e6
        );
    }
}
