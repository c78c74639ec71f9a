//! The `engine` binary: parse the command line, run the command, print any error, exit.

fn main() -> std::process::ExitCode {
    engine::cli::main()
}
