//! `cargo bench`: kernel throughput, allocations per trial and thread scaling for every shipped
//! scenario and for benches/rare-earths-2026-ndpr.toml (the default on one material). Set
//! SUPPLYSHOCK_BENCH_TRIALS / SUPPLYSHOCK_BENCH_BATCH to change the sizes.

#[global_allocator]
static GLOBAL: supplyshock::app::bench::CountingAlloc = supplyshock::app::bench::CountingAlloc;

use supplyshock::sim::engine::Kernel;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let trials = if quick {
        200
    } else {
        env("SUPPLYSHOCK_BENCH_TRIALS", 20_000)
    };
    let batch = if quick {
        1_000
    } else {
        env("SUPPLYSHOCK_BENCH_BATCH", 50_000)
    };
    let mut files = supplyshock::io::read::shipped_scenarios();
    assert!(!files.is_empty(), "no scenarios/ folder beside Cargo.toml");
    // The default on one material: what materials cost a scenario that declares none.
    files.push(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/rare-earths-2026-ndpr.toml"),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ladder = supplyshock::app::bench::thread_ladder(cores);
    for path in files {
        let m = supplyshock::io::read::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let repeats = if quick {
            1
        } else {
            supplyshock::app::bench::REPEATS
        };
        // The engine's kernel (the widest lane path here) beside the one-trial reference;
        // `supplyshock bench` times every path.
        let kernels = [Kernel::best(), Kernel::OneTrial];
        let tps = supplyshock::app::bench::kernels(&m, 1, trials, repeats, &kernels);
        let rows = supplyshock::app::bench::scaling(&m, 1, batch, &ladder, repeats, kernels[0])
            .expect("engine run");
        println!("== {}", path.display());
        print!(
            "{}",
            supplyshock::app::bench::report(&m, &tps, &rows, batch)
        );
        for tp in &tps {
            assert_eq!(
                tp.allocations,
                Some(0),
                "the {} kernel allocated",
                tp.kernel
            );
        }
    }
}
