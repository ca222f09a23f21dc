//! Results on stdout. A closed pipe (`aetool info | head -3`) is an error that ends the command
//! quietly with status 0, as in ripgrep, instead of a panic.

/// `println!` that returns the write error instead of panicking (stdout is line-buffered, so
/// each line is flushed, and its error seen, by the write itself).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Whether `err` comes from writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
