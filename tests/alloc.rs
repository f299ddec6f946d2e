//! The kernel allocates nothing per trial once its scratch exists.

#[global_allocator]
static GLOBAL: supplyshock::app::bench::CountingAlloc = supplyshock::app::bench::CountingAlloc;

#[test]
fn trials_allocate_nothing_after_warm_up() {
    let mut checked = 0;
    for path in supplyshock::io::read::shipped_scenarios() {
        let m = supplyshock::io::read::load(&path).unwrap();
        // Every kernel this processor runs: each lane path and the one-trial kernel.
        let kernels = supplyshock::sim::engine::Kernel::available();
        for tp in supplyshock::app::bench::kernels(&m, 3, 2_000, 1, &kernels) {
            assert_eq!(
                tp.allocations,
                Some(0),
                "{} ({})",
                path.display(),
                tp.kernel
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 12,
        "expected every shipped scenario, found {checked}"
    );
}
