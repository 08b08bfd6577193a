// mimalloc instead of the C library's allocator: a request allocates many small strings
// and rows on several threads (the runtime's and the SQLite connections'), where glibc's
// allocator spent a fifth of the server's time (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    huiqian::cli::main()
}
