fn main() -> std::process::ExitCode {
    huiqian::cli::main()
}
