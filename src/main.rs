use std::process::ExitCode;

use clap::Parser as _;

#[global_allocator]
static GLOBAL: supplyshock::app::bench::CountingAlloc = supplyshock::app::bench::CountingAlloc;

fn main() -> ExitCode {
    let cli = supplyshock::cli::Cli::parse();
    match supplyshock::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
