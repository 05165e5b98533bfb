//! `rtaio-doctor [PATH]`: what rtaio will do on this machine and why. Run by the launcher as
//! `rtaio --doctor [PATH]` (rtaio(1)); the checks are in the library (`doctor.rs`).

fn main() {
    std::process::exit(rtaio::doctor::main(std::env::args_os().skip(1).collect()));
}
