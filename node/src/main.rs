fn main() -> std::process::ExitCode {
    liandong::cli::main()
}
