//! The kernel allocates nothing per trial once its scratch exists.

#[global_allocator]
static GLOBAL: supplyshock::bench::CountingAlloc = supplyshock::bench::CountingAlloc;

#[test]
fn trials_allocate_nothing_after_warm_up() {
    let mut checked = 0;
    for path in supplyshock::bench::shipped_scenarios() {
        let m = supplyshock::model::load(&path).unwrap();
        // The engine's kernel, and the one-trial kernel where that is another.
        for tp in supplyshock::bench::kernels(&m, 3, 2_000, 1) {
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
