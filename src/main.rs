//! The `engine` binary: parse the command line, run the command, print any error, exit.

/// mimalloc (its mature v2 line) instead of glibc's allocator: a run allocates from several
/// threads at once (the coordinator, the record's writer, the script workers, the parse),
/// where glibc's arenas contend on their locks, and frees the parse's tree of many small
/// values at once. 100,000 thread tasks run in about 20% less time and memory a little
/// less (mid-sized runs keep a few MB more: each thread allocates from pages of its own);
/// process tasks are unchanged; a one-task run starts about 0.4 ms later (mimalloc's own
/// pages). BENCHMARKS.md, "Fifth session", has the numbers. Transparent huge pages are off
/// (`no_thp`): where the kernel grants them on request, clearing a 2 MiB page at the start
/// cost a one-task run 0.9 ms.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    engine::cli::main()
}
