//! What flows between the pump and its fronts: output streams and the fronts' requests.

use super::tty::WinSize;

/// Which of the container's output streams bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a front asks of the container.
pub enum FrontEvent {
    Input(Vec<u8>),
    InputEof,
    Resize(WinSize),
    Signal(i32),
}
