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
        let tp = supplyshock::bench::kernel_throughput(&m, 3, 2_000);
        assert_eq!(tp.allocations, Some(0), "{}", path.display());
        let single = supplyshock::engine::Worker::single(&m);
        let tp = supplyshock::bench::kernel_throughput_with(&m, 3, 2_000, single);
        assert_eq!(
            tp.allocations,
            Some(0),
            "{} (one-trial kernel)",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 1);
}
