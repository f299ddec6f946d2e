//! The kernel allocates nothing per trial once its scratch exists.

#[global_allocator]
static GLOBAL: supplyshock::bench::CountingAlloc = supplyshock::bench::CountingAlloc;

#[test]
fn trials_allocate_nothing_after_warm_up() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
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
    assert!(checked >= 1);
}
